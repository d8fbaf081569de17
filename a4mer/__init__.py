"""a4mer: Action Motifs for animators.

The light core (this package minus its torch modules) needs numpy only: skeletons, the Motion
dataclass, motion I/O, retargeting, resampling and atom boundaries import inside a stock Blender.
"""
from .motion import Motion, concatenate
from .skeleton import SMPL, SMPLH, SMPLX, Skeleton

__version__ = "0.1.0"
__all__ = ["Motion", "concatenate", "Skeleton", "SMPL", "SMPLH", "SMPLX", "__version__"]
