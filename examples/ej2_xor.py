"""XOR with tanh networks (TP4, Ejercicio 2c), inputs and targets in {-1, +1}, MSE, SGD(lr=0.1),
500 epochs (tp4b's values; tp4a gives none).

``plain`` (``tp4a.ej2c_xor`` = ``tp4b.ej2c_xor``, 9 params): 2 -> Dense(2, tanh) -> Dense(1, tanh).
``concat`` (``tp4a.ej2c_xor_concat``, 7 params): h = Dense(1, tanh)(x); out = Dense(1, tanh)
applied to Concatenate([x, h]). Accuracy is the threshold metric of tp4b: sign(output) == target.
The reports show training curves only. ``--net both`` (default) trains both, one RESULT line each.

    python examples/ej2_xor.py --net concat
"""
import numpy as np

from minidl import layers, models, optimizers

import common

XOR_X = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype='float32')
XOR_Y = np.array([[-1], [1], [1], [-1]], dtype='float32')


def build_plain():
    return models.Sequential([layers.Input(shape=(2,)), layers.Dense(2, activation='tanh'),
                              layers.Dense(1, activation='tanh')], name='ej2c_xor')


def build_concat():
    x = layers.Input(shape=(2,))
    h = layers.Dense(1, activation='tanh')(x)
    out = layers.Dense(1, activation='tanh')(layers.Concatenate()([x, h]))
    return models.Model(x, out, name='ej2c_xor_concat')


NETS = {'plain': ('tp4a.ej2c_xor', build_plain), 'concat': ('tp4a.ej2c_xor_concat', build_concat)}


def train(args, net):
    model_id, build = NETS[net]
    model = build()
    model.compile(optimizer=optimizers.SGD(learning_rate=args.lr), loss='mse')
    common.summary(model, args)
    history, seconds = common.timed_fit(model, XOR_X, XOR_Y, epochs=args.epochs,
                                        batch_size=args.batch_size, verbose=args.verbose,
                                        time_limit=args.time_limit)
    prediction = model.predict(XOR_X, verbose=0)
    accuracy = float(np.mean(np.sign(prediction) == XOR_Y))
    print(f'{model_id}: outputs {[round(float(v), 3) for v in prediction.ravel()]}, '
          f'final loss {history.history["loss"][-1]:.4f}, threshold accuracy {accuracy:.2f}')
    common.finish(args, model, history, model_id, 'train_threshold_accuracy', accuracy, seconds)


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=500, batch_size=4)
    p.add_argument('--net', choices=['plain', 'concat', 'both'], default='both')
    p.add_argument('--lr', type=float, default=0.1, help='SGD learning rate (tp4b: 0.1)')
    args = p.parse_args()
    common.setup(args)
    args.dataset_name = 'xor'
    for net in (['plain', 'concat'] if args.net == 'both' else [args.net]):
        train(common.for_run(args, net) if args.net == 'both' else args, net)


if __name__ == '__main__':
    main()
