"""Reading tables and learning what their columns are."""
