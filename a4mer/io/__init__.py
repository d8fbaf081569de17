"""Motion file readers and writers (numpy only)."""
from .amass import read_amass_npz, write_amass_npz
from .asfamc import AsfSkeleton, find_asf, read_amc, read_asf
from .bvh import read_bvh
from .bvh_write import write_bvh
from .source import SourceClip

__all__ = ["read_amass_npz", "write_amass_npz"]
__all__ += ["read_bvh", "write_bvh", "read_asf", "read_amc", "find_asf", "AsfSkeleton", "SourceClip"]
