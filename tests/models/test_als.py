from recsys_cli.models.als import ALS, ALSParams
from tests.models.contract import RecommenderContract


class TestALS(RecommenderContract):
    def make(self) -> ALS:
        return ALS(ALSParams(factors=8, iterations=10, regularization=0.01, num_threads=1))
