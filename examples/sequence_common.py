"""What the IMDB sequence examples share (imdb_lstm, imdb_bidirectional_lstm, imdb_transformer):
the padded word-index data, the ``--framework`` switch that runs the same model code on Keras 3
(TensorFlow backend) for the comparison in RESULTS.md, and the train/evaluate/report step.

The model builders take the library as an argument (``lib.layers``, ``lib.models``,
``lib.optimizers``): minidl or Keras, exactly the same code, which is the point of minidl's API.
"""
import os
import time
from types import SimpleNamespace

import numpy as np

import common


def add_flags(p, maxlen, num_words):
    p.add_argument('--framework', choices=['minidl', 'keras'], default='minidl',
                   help='train with minidl (default) or with Keras 3 on TensorFlow, same data and code')
    p.add_argument('--maxlen', type=int, default=maxlen, help=f'words kept per review (default {maxlen})')
    p.add_argument('--num-words', type=int, default=num_words, help=f'vocabulary size (default {num_words})')
    p.add_argument('--train-limit', type=int, default=None, metavar='N',
                   help='train on the first N reviews only (the test set stays whole unless --limit)')
    return p


def library(args):
    """The Keras vocabulary of the chosen framework, as one namespace."""
    if args.framework == 'keras':
        os.environ.setdefault('KERAS_BACKEND', 'tensorflow')
        os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
        import keras
        keras.utils.set_random_seed(args.seed)
        return SimpleNamespace(name='keras', layers=keras.layers, models=keras.models, optimizers=keras.optimizers,
                               ops=keras.ops, Layer=keras.layers.Layer)
    import minidl
    from minidl import layers, models, ops, optimizers
    return SimpleNamespace(name='minidl', layers=layers, models=models, optimizers=optimizers, ops=ops,
                           Layer=minidl.layers.Layer)


def load_imdb(args):
    """IMDB reviews as (n, maxlen) int32 word indices (padded and cut at the front, as Keras'
    pad_sequences does) and float32 0/1 labels."""
    from minidl.preprocessing.sequence import pad_sequences
    (x_train, y_train), (x_test, y_test) = common.load_data('imdb', args, num_words=args.num_words)
    if args.train_limit:
        x_train, y_train = x_train[:args.train_limit], y_train[:args.train_limit]
        args.dataset_name += f'[train:{args.train_limit}]'
    pad = lambda seqs: pad_sequences(seqs, maxlen=args.maxlen).astype('int32')  # noqa: E731
    return (pad(x_train), np.asarray(y_train, 'float32')), (pad(x_test), np.asarray(y_test, 'float32'))


def train_and_report(args, lib, model, model_id, train, test, loss='binary_crossentropy'):
    """compile (Adam, ``loss``, accuracy), fit with the test set as validation, evaluate, and print
    the RESULT line (test accuracy; backend 'keras-tensorflow' for Keras runs)."""
    model.compile(optimizer=lib.optimizers.Adam(), loss=loss, metrics=['accuracy'])
    if not args.quiet:
        model.summary()
    callbacks = []
    if args.time_limit and lib.name == 'keras':
        import keras

        class TimeStopping(keras.callbacks.Callback):
            def __init__(self, seconds):
                super().__init__()
                self.seconds, self.start = seconds, time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                if time.perf_counter() - self.start > self.seconds:
                    self.model.stop_training = True
        callbacks.append(TimeStopping(60 * args.time_limit))
    if lib.name == 'keras':
        start = time.perf_counter()
        history = model.fit(*train, batch_size=args.batch_size, epochs=args.epochs, validation_data=test,
                            verbose=2 if not args.quiet else 0, callbacks=callbacks)
        seconds = (time.perf_counter() - start) / max(1, len(history.history.get('loss', [])))
    else:
        history, seconds = common.timed_fit(model, *train, batch_size=args.batch_size, epochs=args.epochs,
                                            validation_data=test, verbose=args.verbose, time_limit=args.time_limit)
    results = model.evaluate(*test, batch_size=args.batch_size, verbose=0, return_dict=True)
    print('test ' + ', '.join(f'{k}={float(v):.4f}' for k, v in results.items()))
    print('history ' + ', '.join(f'{k}=[{", ".join(f"{float(x):.4f}" for x in v)}]'
                                 for k, v in history.history.items()))
    if lib.name == 'keras':
        epochs_run = len(history.history.get('loss', []))
        common.report(model_id, args.dataset_name, 'test_accuracy', float(results['accuracy']), epochs_run, seconds,
                      'keras-tensorflow')
    else:
        common.finish(args, model, history, model_id, 'test_accuracy', float(results['accuracy']), seconds)
    return history, results
