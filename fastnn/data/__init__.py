"""Data files shipped inside the package (see fastnn.datasets)."""
