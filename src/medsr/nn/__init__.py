"""Dimension-generic building blocks (2D and 3D) shared by generators and discriminators."""
