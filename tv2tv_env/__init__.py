"""TV2TV Gym: a text-controllable neural game world.

Importing the package registers the Gymnasium environments (one place, here):

    TV2TV/Doom-v0     the shipped default Doom model (checkpoints/doom-small)
    TV2TV/Crafter-v0  the shipped Crafter model (checkpoints/crafter-small)
    TV2TV/DoomTakeCover-v0  ViZDoom's take_cover (checkpoints/doom-takecover-small): dodge fireballs
    TV2TV/RealDoom-v0, TV2TV/RealCrafter-v0, TV2TV/RealDoomTakeCover-v0  the real engines behind the same spaces
    TV2TV/RealWorld-v0  the real engine of a Gymnasium env (checkpoint=DIR or env_id=ID)
    TV2TV/World-v0    any world you trained (checkpoint=RUN_DIR), e.g. of a Gymnasium env
                      recorded with `tv2tv record --env ID`

The ids are made by `tv2tv_env.games.env_id(game, real=False)`. The world models' envs take the
world's options (`tv2tv_env.world.WorldOptions`: `checkpoint=`, `device=`, `guidance=`,
`sampling_steps=`, `context_chunks=`, `cache=` ("rolling", the default, or "exact"), ...) and
their own (`render_mode=`, `end_threshold=`, `frames=`, ...); an unknown keyword is a TypeError
listing both. `gymnasium.make_vec(..., vectorization_mode="vector_entry_point")` gives the
batched vector env.
"""
from gymnasium.envs.registration import register

from .games import CARDS, env_id

__version__ = "0.1.0"

MAX_EPISODE_STEPS = 400  # 100 s of play: long enough to explore, short enough for RL batches

for _game, _card in CARDS.items():  # one pair of ids per game card (tv2tv_env/games/__init__.py)
    register(id=env_id(_game), entry_point="tv2tv_env.env:TV2TVEnv",
             vector_entry_point="tv2tv_env.vector_env:TV2TVVectorEnv", max_episode_steps=MAX_EPISODE_STEPS,
             kwargs={"game": _game, **_card.world_defaults})
    # the real engine behind the same spaces: a policy trained in the dream plays the game
    register(id=env_id(_game, real=True), entry_point="tv2tv_env.real_env:RealGameEnv",
             max_episode_steps=MAX_EPISODE_STEPS, kwargs={"game": _game})
# any world you trained, its game read from the checkpoint (a recorded Gymnasium env's card with it)
register(id=env_id(None), entry_point="tv2tv_env.env:TV2TVEnv",
         vector_entry_point="tv2tv_env.vector_env:TV2TVVectorEnv", max_episode_steps=MAX_EPISODE_STEPS,
         kwargs={"game": None})
# and its real engine: RealWorld-v0(checkpoint=DIR) or (env_id=ID), the game from the card
register(id=env_id(None, real=True), entry_point="tv2tv_env.real_env:RealGameEnv",
         max_episode_steps=MAX_EPISODE_STEPS, kwargs={"game": None})


def __getattr__(name):  # the wrapper without importing torch at `import tv2tv_env`
    if name == "DiscreteTextActions":
        from .wrappers import DiscreteTextActions

        return DiscreteTextActions
    raise AttributeError(name)
