"""cyclebook: a Jupyter learning-cycle workbook for community-organizing cohorts."""

__version__ = "0.1.0"
