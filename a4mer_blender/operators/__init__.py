"""The add-on's operators."""
from . import importer, motifs, segment

classes = segment.classes + importer.classes + motifs.classes
