"""Presentation helpers shared by every blueprint's templates."""
