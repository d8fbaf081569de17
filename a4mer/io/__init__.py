"""Motion file readers and writers (numpy only)."""
from .amass import read_amass_npz, write_amass_npz

__all__ = ["read_amass_npz", "write_amass_npz"]
