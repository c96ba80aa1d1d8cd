"""What the chapters show: which panel they run on, tables, figures, glued numbers."""
