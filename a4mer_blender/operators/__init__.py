"""The add-on's operators."""
from . import bake, extend, fill, importer, motifs, segment

classes = segment.classes + importer.classes + motifs.classes + fill.classes + extend.classes + bake.classes
