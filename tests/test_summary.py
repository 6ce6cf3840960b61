"""model.summary() against the tf.keras 2.x layout, for the two kinds of table: a stack
(tp4a.ej8_mnist_conv as printed in the course report) and a graph with "Connected to"
(tp4a.ej3_imdb_bow_l2_bn). Trailing blanks are compared separately (every table row is padded
to the line length)."""
import pytest

from minidl import layers as L
from minidl.models import Model, Sequential

EJ8_CONV = '''
Model: "Ejercicio_8_conv"
_________________________________________________________________
Layer (type)                 Output Shape              Param #
=================================================================
conv2d (Conv2D)              (None, 28, 28, 10)        5770
_________________________________________________________________
max_pooling2d (MaxPooling2D) (None, 14, 14, 10)        0
_________________________________________________________________
conv2d_1 (Conv2D)            (None, 14, 14, 10)        14410
_________________________________________________________________
flatten (Flatten)            (None, 1960)              0
_________________________________________________________________
dense (Dense)                (None, 10)                19610
=================================================================
Total params: 39,790
Trainable params: 39,790
Non-trainable params: 0
_________________________________________________________________
'''

EJ3_BN = '''
Model: "Ejercicio 3 batch normalization"
__________________________________________________________________________________________________
Layer (type)                    Output Shape         Param #     Connected to
==================================================================================================
input (InputLayer)              [(None, 10000)]      0
__________________________________________________________________________________________________
dense (Dense)                   (None, 100)          1000100     input[0][0]
__________________________________________________________________________________________________
batch_normalization (BatchNorma (None, 100)          400         dense[0][0]
__________________________________________________________________________________________________
dense_1 (Dense)                 (None, 10)           1010        batch_normalization[0][0]
__________________________________________________________________________________________________
batch_normalization_1 (BatchNor (None, 10)           40          dense_1[0][0]
__________________________________________________________________________________________________
concatenate (Concatenate)       (None, 10010)        0           input[0][0]
                                                                 batch_normalization_1[0][0]
__________________________________________________________________________________________________
dense_2 (Dense)                 (None, 1)            10011       concatenate[0][0]
==================================================================================================
Total params: 1,011,561
Trainable params: 1,011,341
Non-trainable params: 220
__________________________________________________________________________________________________
'''


@pytest.fixture(autouse=True)
def _fresh_names():
    L.clear_session()


def _capture(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return lines


def _check(lines, expected, width):
    assert [line.rstrip() for line in lines] == expected.strip('\n').split('\n')
    table_rows = [line for line in lines if not line.startswith(('Model:', 'Total', 'Trainable', 'Non-trainable'))]
    assert all(len(line) == width for line in table_rows)


def test_sequential_summary_matches_keras_layout():
    model = Sequential([
        L.Conv2D(10, 24, padding='same', activation='relu', input_shape=(28, 28, 1)),
        L.MaxPooling2D(2),
        L.Conv2D(10, 12, padding='same', activation='relu'),
        L.Flatten(),
        L.Dense(10),
    ], name='Ejercicio_8_conv')
    _check(_capture(model), EJ8_CONV, 65)


def test_functional_summary_with_connections_matches_keras_layout():
    x = L.Input((10000,), name='input')
    h = L.BatchNormalization()(L.Dense(100, activation='relu')(x))
    h = L.BatchNormalization()(L.Dense(10, activation='relu')(h))
    out = L.Dense(1)(L.Concatenate()([x, h]))
    model = Model(x, out, name='Ejercicio 3 batch normalization')
    _check(_capture(model), EJ3_BN, 98)


def test_chain_built_with_input_prints_the_short_table_with_the_input_row():
    x = L.Input((13,))
    lines = _capture(Model(x, L.Dense(1)(x), name='Ejercicio 1'))
    assert lines[2].rstrip() == 'Layer (type)                 Output Shape              Param #'
    assert lines[4].rstrip() == 'input_1 (InputLayer)         [(None, 13)]              0'
    assert lines[-4:-1] == ['Total params: 14', 'Trainable params: 14', 'Non-trainable params: 0']


def test_nested_model_row_and_frozen_counts():
    x = L.Input((8,))
    base = Model(x, L.Dense(4)(x), name='base')
    base.trainable = False
    model = Sequential([L.InputLayer((8,)), base, L.Dense(2)], name='head')
    lines = _capture(model, line_length=70)
    assert lines[4].startswith('base (Functional)') and '(None, 4)' in lines[4] and len(lines[4]) == 70
    assert lines[-4:-1] == ['Total params: 46', 'Trainable params: 10', 'Non-trainable params: 36']


def test_summary_of_an_unbuilt_model_explains_what_to_do():
    lines = []
    Sequential([L.Dense(2)]).summary(print_fn=lines.append)      # Keras 3 prints, it does not raise
    assert 'not been built' in lines[-1] and 'input shape' in lines[-1]


def test_summary_prints_with_print_by_default(capsys):
    Sequential([L.Dense(2, input_shape=(3,))], name='tiny').summary()
    out = capsys.readouterr().out
    assert out.startswith('Model: "tiny"\n') and 'Total params: 8\n' in out
