"""Class descriptions and text encoders."""
