"""Training data: prepared clips, windows aligned to atoms, augmentation (torch only in ``dataset``)."""
