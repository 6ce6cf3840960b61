"""Imbalanced binary classification with class weights, confusion metrics and AUC, after
keras-io's "Imbalanced classification: credit card fraud detection" (fchollet), on real offline
data: Fashion-MNIST, one class (``--positive-class``, default 6 = shirt, the class most often
confused with T-shirts, pullovers and coats) against the nine others, with the positives cut to
``--positive-fraction`` (default 2 %) of the training and of the test set.

Model and training as keras-io's: Dense(256, relu) -> Dense(256, relu) -> Dropout(0.3) ->
Dense(256, relu) -> Dropout(0.3) -> Dense(1, sigmoid), binary cross-entropy, batch 2048, Adam
with ``--lr`` (default 1e-3; keras-io's 1e-2, for its 30 features, kills the unweighted network on
784 pixels: every output saturates at 0 in the first epoch and AUC stays at 0.5); metrics FalseNegatives, FalsePositives, TrueNegatives, TruePositives, Precision, Recall, and
AUC of the ROC and of the precision-recall curve. It trains twice from the same initial weights:
without class weights, and with ``class_weight`` balancing the classes (``n / (2 n_class)``, the
'balanced' weights; keras-io uses 1 / n_class, the same up to a factor). Features are the 784
pixels scaled to [0, 1] and standardized with the training statistics.

    python examples/imbalanced_classification.py --epochs 5 --time-limit 10
"""
import numpy as np

from minidl import layers, metrics, models, optimizers

import common

FASHION = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot']


def build(n_features):
    return models.Sequential([
        layers.Input(shape=(n_features,)),
        layers.Dense(256, activation='relu'),
        layers.Dense(256, activation='relu'),
        layers.Dropout(0.3),
        layers.Dense(256, activation='relu'),
        layers.Dropout(0.3),
        layers.Dense(1, activation='sigmoid'),
    ], name='imbalanced_classification')


def metric_objects():
    return [metrics.FalseNegatives(name='fn'), metrics.FalsePositives(name='fp'),
            metrics.TrueNegatives(name='tn'), metrics.TruePositives(name='tp'),
            metrics.Precision(name='precision'), metrics.Recall(name='recall'),
            metrics.AUC(name='auc'), metrics.AUC(curve='PR', name='prc')]


def imbalanced(x, y, positive, fraction, rng):
    """All negatives and a random subset of the positives making ``fraction`` of the result."""
    pos, neg = np.flatnonzero(y == positive), np.flatnonzero(y != positive)
    keep = int(round(len(neg) * fraction / (1 - fraction)))
    pos = rng.choice(pos, size=min(keep, len(pos)), replace=False)
    idx = rng.permutation(np.concatenate([pos, neg]))
    return x[idx].reshape(len(idx), -1).astype('float32') / 255.0, (y[idx] == positive).astype('float32')


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=5, batch_size=2048)
    p.add_argument('--positive-class', type=int, default=6, choices=range(10), metavar='0-9',
                   help='the Fashion-MNIST class to detect (default 6, shirt)')
    p.add_argument('--positive-fraction', type=float, default=0.02,
                   help='share of positives kept in the training and test sets (default 0.02)')
    p.add_argument('--lr', type=float, default=1e-3, help='Adam learning rate (default %(default)s)')
    p.add_argument('--weighting', choices=['both', 'none', 'balanced'], default='both',
                   help='train without class weights, with balanced ones, or both (default)')
    args = p.parse_args()
    rng = common.setup(args)
    (x_train, y_train), (x_test, y_test) = common.load_data('fashion_mnist', args)
    x_train, y_train = imbalanced(x_train, np.asarray(y_train), args.positive_class, args.positive_fraction, rng)
    x_test, y_test = imbalanced(x_test, np.asarray(y_test), args.positive_class, args.positive_fraction, rng)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    n_pos, n = int(y_train.sum()), len(y_train)
    print(f"training: {n} samples, {n_pos} positives ({FASHION[args.positive_class]}, {100 * n_pos / n:.2f} %); "
          f"test: {len(y_test)} samples, {int(y_test.sum())} positives")
    args.dataset_name += f'[{FASHION[args.positive_class]}-vs-rest,{100 * args.positive_fraction:g}%]'

    runs = ['none', 'balanced'] if args.weighting == 'both' else [args.weighting]
    initial = None
    for weighting in runs:
        run = common.for_run(args, weighting) if len(runs) > 1 else args
        model = build(x_train.shape[1])
        if initial is None:
            initial = model.get_weights()
        model.set_weights(initial)                          # both runs start from the same weights
        model.compile(optimizer=optimizers.Adam(args.lr), loss='binary_crossentropy', metrics=metric_objects())
        class_weight = None
        if weighting == 'balanced':
            class_weight = {0: n / (2.0 * (n - n_pos)), 1: n / (2.0 * n_pos)}
            print(f'class_weight = {{0: {class_weight[0]:.3f}, 1: {class_weight[1]:.3f}}}')
        history, results = common.fit_and_report(run, model, f'imbalanced.{weighting}', (x_train, y_train),
                                                 (x_test, y_test), metric='prc', label='auc_pr',
                                                 class_weight=class_weight)
        print(f"[{weighting}] test: recall {results['recall']:.3f}, precision {results['precision']:.3f}, "
              f"AUC-ROC {results['auc']:.4f}, AUC-PR {results['prc']:.4f}; caught {int(results['tp'])} of "
              f"{int(y_test.sum())} positives with {int(results['fp'])} false alarms")


if __name__ == '__main__':
    main()
