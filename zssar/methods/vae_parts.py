"""What the VAE baselines share (CADA-VAE, SynSE, SA-DVAE): Gaussian encoders, their losses, warm-up
ramps, seen-val early stopping in the latent space, and scoring by a classifier on latent samples.

Every one of them encodes a standardised pooled skeleton feature x and a unit text embedding t into
diagonal Gaussians q(z|x) = N(mu_x, diag sigma_x^2), q(z|t) = N(mu_t, diag sigma_t^2), with the
reparameterisation z = mu + sigma * eps, and trains reconstructions, a KL term to N(0, I),

    KL = -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2),

cross-reconstructions (decode x from the text's z and t from the skeleton's z) and, for CADA-VAE,
the 2-Wasserstein distance of two diagonal Gaussians,

    W = ( ||mu_1 - mu_2||^2 + ||sigma_1 - sigma_2||^2 )^(1/2).

The weight of each term follows a :class:`Ramp`: zero, then linear between two fractions of the
epochs, then constant (the papers' warm-up schedules, written as fractions so that they scale
with ``epochs``).

**Early stopping (seen-val only).** After each epoch the held-out seen samples ``val`` that ``fit``
receives are encoded (mu_x) and assigned to the nearest text mean mu_t of the seen classes
(Euclidean, the space the classifier below lives in); the score is that accuracy, ties broken
towards a smaller mean distance to the own class's mu_t. It measures what zero-shot scoring needs,
held-out skeletons landing next to their class's text, and reads no unseen class. Epochs before
every loss term is switched on (``select_from``) are not candidates: the model kept is always one
trained with the whole objective. The public code of these methods keeps the cycle with the best
unseen TEST accuracy instead (docs/METHODS.md); zssar never does.

**Scoring** (``classifier="softmax"``, the papers'). For a candidate set, a softmax classifier
(linear, as in the papers) is trained on latent samples: a candidate that is one of the classes
``fit`` saw gets ``classifier_samples`` draws from the encoded training skeletons of that class
(CADA-VAE's GZSL classifier), any other candidate the same number of draws from q(z|t) of its own
text. Only the candidates' TEXT is read; no test
sample and no label enters the classifier, which is trained once per candidate set (cached by the
candidates' ids and text) with the fit seed, in class-id order so that permuting the candidates
permutes the columns exactly. A sample is then scored with the classifier's logits of its mu_x.

``classifier="nearest"``: the score of a candidate is minus the Euclidean distance of mu_x to the
candidate's centre, the mean of the encoded training skeletons for a class ``fit`` saw, the text mean
mu_t for any other (the rule the early stopping above measures). The linear classifier learns from
samples whose spread is sigma; when sigma is large next to the distances between class means (a
strong KL weight, few dimensions) it fits that noise, and nearest-mean is the robust limit. Both are
offered to the runner through :meth:`selectable`, which picks on the pseudo-unseen classes of
seen_val (``classifier_grid``; one value: no choice).

Why this file is long: it is the one module the three VAE baselines share, the layers and losses
and also the fit/early-stopping/scoring scaffolding, so that each method file holds only its model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidConfig
from ..features import FeatureSet
from ..utils import array_digest, progress, torch_seeded
from .base import Method, Needs, Scores, label_positions
from .training import EarlyStopping, optimiser_step, shuffled_batches

CLASSIFIERS = ("softmax", "nearest")


class GaussianEncoder(nn.Module):
    """x -> (mu, log sigma^2) through one hidden layer (the papers' encoders)."""

    def __init__(self, in_dim: int, hidden: int, latent: int, dropout: float = 0.0):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.mu, self.logvar = nn.Linear(hidden, latent), nn.Linear(hidden, latent)

    def forward(self, x):
        h = self.body(x)
        return self.mu(h), self.logvar(h).clamp(-10.0, 10.0)  # keeps exp() finite early in training


def decoder(latent: int, hidden: int, out_dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))


def reparameterise(mu, logvar):
    """z = mu + sigma * eps; eps from torch's generator (fit runs inside ``torch_seeded``)."""
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)


def kl_divergence(mu, logvar):
    """KL(q || N(0, I)), summed over latent dimensions, averaged over the batch."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)).mean()


def wasserstein(mu_a, logvar_a, mu_b, logvar_b):
    """2-Wasserstein distance of diagonal Gaussians, averaged over the batch."""
    d = (mu_a - mu_b).pow(2).sum(-1) + (torch.exp(0.5 * logvar_a) - torch.exp(0.5 * logvar_b)).pow(2).sum(-1)
    return torch.sqrt(d + 1e-12).mean()


def l1_sum(target, output):
    """Absolute error summed over dimensions, averaged over the batch (CADA-VAE's reconstruction)."""
    return (target - output).abs().sum(-1).mean()


@dataclass(frozen=True)
class Ramp:
    """A loss weight: 0 before ``start``, linear up to ``value`` at ``end``, then ``value``
    (fractions of the epochs; ``start == end`` is a step)."""

    start: float
    end: float
    value: float

    def __call__(self, epoch: int, epochs: int) -> float:
        f = epoch / max(1, epochs)
        if f < self.start:
            return 0.0
        if self.end <= self.start:
            return self.value
        return self.value * min(1.0, (f - self.start) / (self.end - self.start))


def train_softmax(inputs: torch.Tensor, targets: torch.Tensor, num_classes: int, epochs: int, lr: float,
                  seed: int) -> nn.Linear:
    """A linear softmax classifier, full-batch Adam (SynSE's and SA-DVAE's latent classifier)."""
    with torch_seeded(seed):
        head = nn.Linear(inputs.shape[1], num_classes)
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    for _ in range(epochs):
        optimiser_step(opt, F.cross_entropy(head(inputs), targets))
    return head.eval()


def unit_rows(a: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return F.normalize(t, dim=-1)


class LatentVAEMethod(Method):
    """fit and scores of a skeleton/text VAE scored by a classifier on latent samples.

    A subclass builds its networks (:meth:`build`), says its text (:meth:`text_matrix`), its loss
    terms (:meth:`loss_terms`, weighted total under ``"loss"``), which latent scores
    (:meth:`skeleton_latent`, :meth:`text_latent`) and from which fraction of the epochs every term
    is on (``select_from``).
    """

    select_from = 0.0

    def __init__(self, *, text_field: str, latent: int, hidden: int, epochs: int, batch_size: int, lr: float,
                 weight_decay: float, patience: int | None, classifier_samples: int, classifier_epochs: int,
                 classifier_lr: float, classifier: str = "softmax", classifier_grid: tuple = CLASSIFIERS):
        checks = [(latent >= 1 and hidden >= 1, "latent and hidden must be >= 1"),
                  (epochs >= 1 and batch_size >= 2, "epochs must be >= 1 and batch_size >= 2"),
                  (lr > 0 and weight_decay >= 0, "lr must be > 0 and weight_decay >= 0"),
                  (patience is None or patience >= 1, "patience must be None (never stop early) or >= 1"),
                  (classifier_samples >= 1 and classifier_epochs >= 1 and classifier_lr > 0,
                   "classifier_samples and classifier_epochs must be >= 1 and classifier_lr > 0"),
                  (classifier in CLASSIFIERS and len(classifier_grid) >= 1 and set(classifier_grid) <= set(CLASSIFIERS),
                   f"classifier and every classifier_grid value must be one of {CLASSIFIERS}")]
        for ok, msg in checks:
            if not ok:
                raise InvalidConfig(f"{self.name}: {msg}")
        self.text_field, self.latent, self.hidden = text_field, latent, hidden
        self.epochs, self.batch_size, self.lr = epochs, batch_size, lr
        self.weight_decay, self.patience = weight_decay, patience
        self.classifier_samples, self.classifier_epochs = classifier_samples, classifier_epochs
        self.classifier_lr, self.classifier, self.classifier_grid = classifier_lr, classifier, tuple(classifier_grid)
        self.net = None
        self.history: list[dict] = []
        self.best_epoch = None

    @property
    def needs(self) -> Needs:
        return Needs(text_fields=(self.text_field,))

    def settings(self) -> dict:
        keys = ("text_field", "latent", "hidden", "epochs", "batch_size", "lr", "weight_decay", "patience",
                "classifier_samples", "classifier_epochs", "classifier_lr", "classifier")
        return {k: getattr(self, k) for k in keys} | {"classifier_grid": list(self.classifier_grid)}

    def selectable(self) -> dict[str, tuple]:
        return {"classifier": self.classifier_grid} if len(self.classifier_grid) > 1 else {}

    # ---------------------------------------------------------------- hooks
    def build(self, x_dim: int, t_dim: int) -> nn.Module:
        raise NotImplementedError

    def text_matrix(self, text) -> np.ndarray:
        """(K, D) the text each class is encoded from (unit rows)."""
        return text.embeddings(self.text_field)

    def loss_terms(self, net, x, t, epoch: int) -> dict:
        raise NotImplementedError

    def skeleton_latent(self, net, x):
        raise NotImplementedError

    def text_latent(self, net, t):
        raise NotImplementedError

    def train_step(self, opt, x, t, epoch: int) -> dict:
        terms = self.loss_terms(self.net, x, t, epoch)
        optimiser_step(opt, terms["loss"])
        return {k: float(v.detach()) for k, v in terms.items()}

    def make_optimiser(self):
        return torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    # ---------------------------------------------------------------- training
    def standardise(self, pooled: np.ndarray) -> torch.Tensor:
        return (torch.from_numpy(np.ascontiguousarray(pooled, dtype=np.float32)) - self.mean) / self.std

    def fit(self, features: FeatureSet, labels, text, *, val=None, seed: int = 0, show_progress: bool = False):
        with torch_seeded(seed):
            self.fit_arrays(features.pooled, labels, text, None if val is None else (val[0].pooled, val[1]),
                            seed, show_progress)
        return self

    def fit_arrays(self, pooled, labels, text, val, seed: int, show_progress: bool) -> None:
        x0 = torch.from_numpy(np.ascontiguousarray(pooled, dtype=np.float32))
        self.mean, self.std = x0.mean(0), x0.std(0) + 1e-6  # training statistics only
        x, y = self.standardise(pooled), torch.from_numpy(label_positions(labels, text.class_ids))
        t = unit_rows(self.text_matrix(text))
        self.net = self.build(x.shape[1], t.shape[1])
        opt, gen = self.make_optimiser(), torch.Generator().manual_seed(seed)
        stopper = EarlyStopping(self.patience)
        first = min(int(self.select_from * self.epochs), self.epochs - 1)
        xv = yv = None
        if val is not None and len(val[1]):
            xv, yv = self.standardise(val[0]), torch.from_numpy(label_positions(val[1], text.class_ids))
        self.history = []
        for epoch in progress(range(self.epochs), desc=f"fit {self.name}", enabled=show_progress):
            self.net.train()
            sums, counts = {}, {}  # per term: a term a step does not report is averaged without it
            for sel in shuffled_batches(len(x), self.batch_size, gen, min_size=2):
                for k, v in self.train_step(opt, x[sel], t[y[sel]], epoch).items():
                    sums[k], counts[k] = sums.get(k, 0.0) + v * len(sel), counts.get(k, 0) + len(sel)
            row = {"epoch": epoch + 1} | {k: v / counts[k] for k, v in sums.items()}
            if xv is not None:
                row["val_accuracy"], row["val_score"] = self.val_score(xv, yv, t)
            self.history.append(row)
            if xv is not None and epoch >= first and stopper.update(epoch, row["val_score"], self.net):
                break
        stopper.restore(self.net)
        self.best_epoch = stopper.best_epoch if xv is not None else len(self.history) - 1
        self.net.eval()
        with torch.no_grad():
            self.train_mu, self.train_logvar = self.skeleton_latent(self.net, x)
        self.train_classes = np.asarray(labels, dtype=np.int64).copy()
        self.class_ids, self.seed, self._classifiers = tuple(text.class_ids), int(seed), {}

    def val_score(self, xv, yv, t) -> tuple[float, float]:
        """(accuracy, score): nearest seen-class text mean of each val skeleton mean, ties broken
        towards a smaller distance to the own class (bounded below one val sample's worth)."""
        self.net.eval()
        with torch.no_grad():
            d = torch.cdist(self.skeleton_latent(self.net, xv)[0], self.text_latent(self.net, t)[0])
            acc = float((d.argmin(1) == yv).float().mean())
            own = float(d[torch.arange(len(yv)), yv].mean())
        return acc, acc - 1e-4 * own / (1.0 + own)

    # ---------------------------------------------------------------- scoring
    def _require_fit(self) -> None:
        if self.net is None:
            raise RuntimeError(f"fit {self.name} before scoring")

    def latent_classifier(self, text) -> nn.Linear:
        """The softmax classifier of a candidate set (``text`` in class-id order), cached."""
        t = unit_rows(self.text_matrix(text))
        key = (tuple(text.class_ids), array_digest([t.numpy()]))
        if key not in self._classifiers:
            rng, n = np.random.default_rng(self.seed), self.classifier_samples
            mus, logvars = [], []
            with torch.no_grad():
                text_mu, text_logvar = self.text_latent(self.net, t)
            for k, c in enumerate(text.class_ids):
                own = np.flatnonzero(self.train_classes == c) if c in self.class_ids else []
                if len(own):  # a class fit saw: its encoded training skeletons
                    pick = torch.from_numpy(rng.choice(own, size=n, replace=True))
                    mus.append(self.train_mu[pick]), logvars.append(self.train_logvar[pick])
                else:  # any other class: its own text only
                    mus.append(text_mu[k].expand(n, -1)), logvars.append(text_logvar[k].expand(n, -1))
            with torch_seeded(self.seed):
                z = reparameterise(torch.cat(mus), torch.cat(logvars))
            targets = torch.arange(len(text.class_ids)).repeat_interleave(n)
            self._classifiers[key] = train_softmax(z, targets, len(text.class_ids), self.classifier_epochs,
                                                   self.classifier_lr, self.seed)
        return self._classifiers[key]

    def class_centres(self, text) -> torch.Tensor:
        """(K, L) mean encoded training skeleton of a class fit saw, else the class's text mean."""
        with torch.no_grad():
            centres = self.text_latent(self.net, unit_rows(self.text_matrix(text)))[0].clone()
        for k, c in enumerate(text.class_ids):
            if c in self.class_ids and (self.train_classes == c).any():
                centres[k] = self.train_mu[torch.from_numpy(self.train_classes == c)].mean(0)
        return centres

    def latent_logits(self, pooled: np.ndarray, text) -> np.ndarray:
        """(N, K) scores by the chosen ``classifier``, columns in ``text.class_ids`` order."""
        self._require_fit()
        with torch.no_grad():
            z = self.skeleton_latent(self.net, self.standardise(pooled))[0]
            if self.classifier == "nearest":
                return (-torch.cdist(z, self.class_centres(text))).numpy()
        ids = list(text.class_ids)
        order = np.argsort(ids, kind="stable")
        head = self.latent_classifier(text.take([ids[i] for i in order]))
        with torch.no_grad():
            logits = head(z).numpy()
        out = np.empty_like(logits)
        out[:, order] = logits
        return out

    def scores(self, features: FeatureSet, text, stream=None) -> Scores:
        return Scores(self.latent_logits(features.pooled, text), temperature=1.0)

    def state_digest(self) -> str:
        if self.net is None:
            return "unfitted"
        return array_digest([p.detach().numpy() for p in self.net.state_dict().values()]
                            + [self.mean.numpy(), self.train_mu.numpy()])
