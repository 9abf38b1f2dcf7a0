"""Data-safety tests: output folders, names, signals, numbers, readers and spreadsheets."""
