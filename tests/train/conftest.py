import pytest

pytest.importorskip("trl")

from tiny_models import save_tiny_model

from toolgym.io import read_trajectories
from toolgym.models import ErrorRates, ScriptedPolicy
from toolgym.rollout import RolloutConfig, rollout
from toolgym.train.data import preference_pairs, prefixes
from toolgym.train.layouts import write_data


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def train_envs(samples):
    """The samples, in the training split."""
    return [e.model_copy(update={"metadata": e.metadata.model_copy(update={"split": "train"})}) for e in samples]


@pytest.fixture(scope="session")
def trajectories(train_envs, pool, tmp_path_factory):
    out = tmp_path_factory.mktemp("traj") / "t.jsonl"
    rollout(train_envs, ScriptedPolicy(ErrorRates(wrong_argument=0.4, early_answer=0.1), seed=3), out,
            config=RolloutConfig(samples=4), executor=pool)
    return list(read_trajectories(out))


@pytest.fixture(scope="session")
def data_dir(trajectories, train_envs, tmp_path_factory):
    envs = {e.id: e for e in train_envs}
    out = tmp_path_factory.mktemp("data") / "data"
    write_data(out, list(prefixes(trajectories, envs)), preference_pairs(trajectories, envs))
    return out
