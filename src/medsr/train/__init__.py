"""Training: steps per recipe, the generic loop, checkpoints, EMA, the divergence guard, logging."""
