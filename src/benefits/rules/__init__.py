"""Rule packs: the file format (model), the loader, and the loaded pack."""
