"""pa3report: run the CNN colourization / super-resolution practical and report on it."""

__version__ = "0.1.0"
