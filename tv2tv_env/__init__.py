"""TV2TV Gym: a text-controllable neural game world.

The Gymnasium environments (`TV2TV/Doom-v0`, `TV2TV/Crafter-v0`) are registered here once
the world model exists (issue 5). Today the package records real game play as
text + frames (`tv2tv record`) and checks it (`tv2tv validate`).
"""
__version__ = "0.1.0"
