"""Support-vector regression on cached features, tuned inside each training side."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from bench.method import FeatureMethod
from methods import _sklearn_state


class SVRFeatureMethod(FeatureMethod):
    """Features → standardise → RBF SVR; C and gamma by grouped k-fold CV on the train side.

    The CV folds are grouped by content like the outer splits, so tuning never sees a
    test-side group and never rewards memorising one prompt's images.
    """

    fits_in_threads = True  # one GridSearchCV per split, libsvm's training without the GIL

    def __init__(self, C=(1.0, 10.0, 100.0), gamma=("scale",), epsilon=0.1, cv_folds=3):
        self.C = C
        self.gamma = gamma
        self.epsilon = epsilon
        self.cv_folds = cv_folds

    def fit_features(self, X, Y, groups):
        X = np.nan_to_num(X, nan=0.0, posinf=0.0, neginf=0.0)
        folds = GroupKFold(n_splits=min(self.cv_folds, len(np.unique(groups))))
        grid = {"svr__C": list(self.C), "svr__gamma": list(self.gamma)}
        self.models_ = {}
        for target, y in Y.items():
            search = GridSearchCV(make_pipeline(StandardScaler(), SVR(epsilon=self.epsilon)), grid,
                                  cv=folds, scoring="neg_mean_squared_error")
            search.fit(X, y, groups=groups)
            self.models_[target] = search.best_estimator_
        self.report_ = {t: {k.removeprefix("svr__"): v for k, v in m.get_params().items()
                            if k in ("svr__C", "svr__gamma")} for t, m in self.models_.items()}
        return self

    def predict_features(self, X):
        X = np.nan_to_num(X, nan=0.0, posinf=0.0, neginf=0.0)
        return {target: model.predict(X) for target, model in self.models_.items()}

    def checkpoint(self):
        return _sklearn_state.dumps(self.method_name, self.models_)  # arrays + JSON, never a pickle

    def load_checkpoint(self, data):
        self.models_ = _sklearn_state.loads(data, self.method_name)
        return self
