"""The controllability benchmark: frame metrics and the inverse-dynamics judge."""
