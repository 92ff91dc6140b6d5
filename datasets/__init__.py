"""Dataset definitions and generators: synthetic scenes, threat image projection, importers, builder."""
