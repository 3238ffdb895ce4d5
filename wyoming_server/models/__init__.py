"""Models in the data folder: the official releases, downloading them and installing converted ones."""
