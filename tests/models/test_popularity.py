import numpy as np

from recsys_cli.models.base import TrainData
from recsys_cli.models.popularity import Popularity, PopularityParams
from tests.models.contract import RecommenderContract


class TestPopularity(RecommenderContract):
    personalised = False

    def make(self) -> Popularity:
        return Popularity()


def test_ranks_by_distinct_users() -> None:
    import scipy.sparse as sp

    # item 2: 3 users once; item 0: one user with a large weight
    m = sp.csr_matrix(np.array([[9.0, 0, 1], [0, 0, 1], [0, 1, 1]], dtype=np.float32))
    by_users = Popularity(PopularityParams(by="users")).fit(TrainData(matrix=m))
    by_weight = Popularity(PopularityParams(by="weight")).fit(TrainData(matrix=m))
    assert by_users.recommend(np.array([0]), 1).items[0, 0] == 2
    assert by_weight.recommend(np.array([0]), 1).items[0, 0] == 0
