"""SA-DVAE: a semantics-aware disentangled VAE (the skeleton latent split in two).

Li et al. (ECCV 2024) observe that a skeleton feature carries much that no class text describes
(the performer's style, noise of the capture). The skeleton encoder gives two latents, a
semantic-related z_s (aligned with the text latent z_t) and a semantic-irrelevant z_r; the
skeleton decoder reads both, the text decoder only the semantic part:

    L_VAE   = ||x - D_x([z_s, z_r])||^2 + ||t - D_t(z_t)||^2 + beta (KL_s + KL_r + KL_t)
    L_cross = ||x - D_x([z_t, z_r])||^2 + ||t - D_t(z_s)||^2
    L_tc    = E[ D(z_s, z_r) ]      (the encoder makes joint samples look like shuffled ones)

A discriminator D (sigmoid output) is trained, by binary cross-entropy, to tell joint pairs
[z_s, z_r] (label 1) from pairs whose halves come from different samples (each half permuted on
its own; label 0), on the skeleton branch and on the text branch [z_t, z_r]. The encoder minimises
L_tc, the total correlation between the two parts as the discriminator sees it, so z_r carries what
z_s does not. Zero-shot scoring uses z_s only: a softmax classifier on latent samples
(:mod:`zssar.methods.vae_parts`: encoded training skeletons for the classes ``fit`` saw, text latents
of the others; a test sample by its mu_s).

What zssar does where the paper or its setting is open (facts of the public code in brackets):

* sizes: semantic latent 64, irrelevant latent ``style`` 8 [160 + 8 for NTU-60], one hidden layer of
  256 units per encoder/decoder, discriminator hidden (64 + 8) / 4 units with a sigmoid [as code];
* schedules as fractions of the epochs: KL weight 0 -> ``kl_weight`` = 0.025 over 35-100 %, the
  cross-reconstruction switched on at ``cross_start`` = 50 % and the TC weight ramped 0 ->
  ``tc_weight`` from there [the code repeats a cycle with cross-reconstruction in its last 20 %
  and the TC weight tied to the tiny KL factor, about 0.01]; ``tc_weight`` = 0.1; the discriminator
  steps every ``discriminator_every`` = 5 batches [5 for NTU-60], with its own Adam;
* reparameterisation with one noise value per dimension [the code draws one per sample, broadcast
  over dimensions]; Adam lr 1e-3 [3.4e-5 over 17000 iterations]; epochs selected on seen-val latent
  accuracy from ``cross_start`` on [code: the cycle with the best unseen TEST accuracy];
* GZSL: the paper reuses SynSE's gate; here the runner's calibrated stacking and entropy gate read
  the classifier's scores (the gated variant is :mod:`zssar.methods.synse`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidConfig
from .base import register_method
from .training import optimiser_step
from .vae_parts import CLASSIFIERS, GaussianEncoder, LatentVAEMethod, Ramp, decoder, kl_divergence, reparameterise


class SadvaeNet(nn.Module):
    def __init__(self, x_dim: int, t_dim: int, hidden: int, latent: int, style: int):
        super().__init__()
        self.latent = latent
        self.enc_x, self.dec_x = GaussianEncoder(x_dim, hidden, latent + style), decoder(latent + style, hidden, x_dim)
        self.enc_t, self.dec_t = GaussianEncoder(t_dim, hidden, latent), decoder(latent, hidden, t_dim)
        both = latent + style
        self.discriminator = nn.Sequential(nn.Linear(both, max(1, both // 4)), nn.ReLU(),
                                           nn.Linear(max(1, both // 4), 1), nn.Sigmoid())

    def split(self, mu, logvar):
        """(semantic mu, semantic logvar, irrelevant mu, irrelevant logvar) of the skeleton latent."""
        k = self.latent
        return mu[:, :k], logvar[:, :k], mu[:, k:], logvar[:, k:]


def shuffled_halves(a, b):
    """[a, b] with a and b permuted independently over the batch: a sample of q(a) q(b)."""
    return torch.cat([a[torch.randperm(len(a))], b[torch.randperm(len(b))]], 1)


@register_method
class SaDVAE(LatentVAEMethod):
    name = "sadvae"

    def __init__(self, text_field: str = "label+description", latent: int = 64, style: int = 8, hidden: int = 256,
                 kl_weight: float = 0.025, cross_weight: float = 1.0, tc_weight: float = 0.1,
                 cross_start: float = 0.5, discriminator_every: int = 5, epochs: int = 200, batch_size: int = 32,
                 lr: float = 1e-3, weight_decay: float = 0.0, patience: int | None = 30,
                 classifier_samples: int = 200, classifier_epochs: int = 300, classifier_lr: float = 1e-3,
                 classifier: str = "softmax", classifier_grid: tuple = CLASSIFIERS):
        super().__init__(text_field=text_field, latent=latent, hidden=hidden, epochs=epochs, batch_size=batch_size,
                         lr=lr, weight_decay=weight_decay, patience=patience, classifier_samples=classifier_samples,
                         classifier_epochs=classifier_epochs, classifier_lr=classifier_lr,
                         classifier=classifier, classifier_grid=classifier_grid)
        checks = [(style >= 1, "style (the semantic-irrelevant latent) must be >= 1"),
                  (min(kl_weight, cross_weight, tc_weight) >= 0, "kl_weight, cross_weight, tc_weight must be >= 0"),
                  (0.0 <= cross_start < 1.0, "cross_start must be a fraction of the epochs in [0, 1)"),
                  (discriminator_every >= 1, "discriminator_every must be >= 1")]
        for ok, msg in checks:
            if not ok:
                raise InvalidConfig(f"sadvae: {msg}")
        self.style, self.kl_weight, self.cross_weight, self.tc_weight = style, kl_weight, cross_weight, tc_weight
        self.cross_start, self.discriminator_every = cross_start, discriminator_every
        self.select_from = cross_start
        self.ramps = {"kl": Ramp(0.35, 1.0, kl_weight), "cross": Ramp(cross_start, cross_start, cross_weight),
                      "tc": Ramp(cross_start, 1.0, tc_weight)}

    def settings(self) -> dict:
        return super().settings() | {"style": self.style, "kl_weight": self.kl_weight,
                                     "cross_weight": self.cross_weight, "tc_weight": self.tc_weight,
                                     "cross_start": self.cross_start,
                                     "discriminator_every": self.discriminator_every}

    def build(self, x_dim: int, t_dim: int) -> nn.Module:
        self._steps = 0
        return SadvaeNet(x_dim, t_dim, self.hidden, self.latent, self.style)

    def make_optimiser(self):
        """The VAE's Adam (the discriminator has its own, made here too)."""
        vae = [p for n, p in self.net.named_parameters() if not n.startswith("discriminator.")]
        self._dis_opt = torch.optim.Adam(self.net.discriminator.parameters(), lr=self.lr)
        return torch.optim.Adam(vae, lr=self.lr, weight_decay=self.weight_decay)

    def skeleton_latent(self, net, x):
        mu_s, lv_s, _, _ = net.split(*net.enc_x(x))
        return mu_s, lv_s

    def text_latent(self, net, t):
        return net.enc_t(t)

    def loss_terms(self, net, x, t, epoch: int) -> dict:
        mu_s, lv_s, mu_r, lv_r = net.split(*net.enc_x(x))
        mu_t, lv_t = net.enc_t(t)
        z_s, z_r, z_t = reparameterise(mu_s, lv_s), reparameterise(mu_r, lv_r), reparameterise(mu_t, lv_t)
        terms = {"reconstruction": F.mse_loss(net.dec_x(torch.cat([z_s, z_r], 1)), x) + F.mse_loss(net.dec_t(z_t), t),
                 "kl": kl_divergence(mu_s, lv_s) + kl_divergence(mu_r, lv_r) + kl_divergence(mu_t, lv_t),
                 "cross": F.mse_loss(net.dec_x(torch.cat([z_t, z_r], 1)), x) + F.mse_loss(net.dec_t(z_s), t),
                 "tc": net.discriminator(torch.cat([z_s, z_r], 1)).mean()}
        terms["loss"] = terms["reconstruction"] + sum(r(epoch, self.epochs) * terms[k] for k, r in self.ramps.items())
        return terms

    def train_step(self, opt, x, t, epoch: int) -> dict:
        net, extra = self.net, {}
        self._steps += 1
        if self._steps % self.discriminator_every == 0:  # the discriminator: joint (1) vs shuffled halves (0)
            with torch.no_grad():
                mu_s, lv_s, mu_r, lv_r = net.split(*net.enc_x(x))
                z_s, z_r, z_t = reparameterise(mu_s, lv_s), reparameterise(mu_r, lv_r), reparameterise(*net.enc_t(t))
            ones, zeros = torch.ones(len(x), 1), torch.zeros(len(x), 1)
            d = net.discriminator
            loss_d = sum(F.binary_cross_entropy(d(torch.cat([a, z_r], 1)), ones)
                         + F.binary_cross_entropy(d(shuffled_halves(a, z_r)), zeros) for a in (z_s, z_t)) / 4
            optimiser_step(self._dis_opt, loss_d)
            extra["discriminator"] = float(loss_d.detach())
        terms = self.loss_terms(net, x, t, epoch)
        optimiser_step(opt, terms["loss"])  # steps the VAE only; the discriminator's grads are reset before its step
        return {k: float(v.detach()) for k, v in terms.items()} | extra
