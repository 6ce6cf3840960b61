"""examples/mnist_denoising_conv_ae.py (issue 17): the model is the Keras example's, layer for
layer (Keras 3 builds the same output shapes and parameter counts, and on the same weights
predicts the same denoised images); the noise and the PSNR are what the docstring says; the
script runs end to end on tiny synthetic data, prints its RESULT line and the noisy/denoised
MSE line, and saves the original / noisy / denoised picture next to the history plot. (The
shared smoke run over every script is in test_examples.py.)"""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / 'examples'
sys.path.insert(0, str(EXAMPLES))

import mnist_denoising_conv_ae as cae  # noqa: E402
from minidl import layers as L  # noqa: E402


def test_model_is_the_keras_example_layer_for_layer(keras):
    L.clear_session()
    ours = cae.build()
    K = keras.layers
    inputs = keras.Input((28, 28, 1))
    x = K.Conv2D(32, 3, activation='relu', padding='same')(inputs)
    x = K.MaxPooling2D(2, padding='same')(x)
    x = K.Conv2D(32, 3, activation='relu', padding='same')(x)
    x = K.MaxPooling2D(2, padding='same')(x)
    x = K.Conv2DTranspose(32, 3, strides=2, activation='relu', padding='same')(x)
    x = K.Conv2DTranspose(32, 3, strides=2, activation='relu', padding='same')(x)
    theirs = keras.Model(inputs, K.Conv2D(1, 3, activation='sigmoid', padding='same')(x))
    assert ours.count_params() == theirs.count_params() == 28_353
    assert ([type(layer).__name__ for layer in ours.layers[1:]] == [type(layer).__name__ for layer in theirs.layers[1:]])
    for mine, keras_layer in zip(ours.layers[1:], theirs.layers[1:]):
        assert tuple(mine.output.shape) == tuple(keras_layer.output.shape), mine.name
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype('float32')
    np.testing.assert_allclose(ours.predict(x, verbose=0), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-4,
                               atol=1e-5)


def test_noise_is_clipped_gaussian_and_psnr_is_ten_log10_of_one_over_mse():
    x = np.full((2000, 28, 28, 1), 0.5, np.float32)
    noisy = cae.add_noise(x, np.random.default_rng(0))
    assert noisy.dtype == np.float32 and noisy.min() >= 0 and noisy.max() <= 1
    # unclipped |0.4 N| < 0.5 has probability 0.79; what is left over is clipped: the std is below 0.4
    assert 0.3 < float(np.std(noisy - x)) < 0.4 and abs(float(np.mean(noisy - x))) < 5e-3
    assert cae.psnr(0.01) == pytest.approx(20.0)


def test_script_runs_on_synthetic_data_and_saves_the_three_rows(tmp_path):
    env = dict(os.environ, MINIDL_DATA=str(tmp_path / 'no-datasets'), MPLBACKEND='Agg')
    plot = tmp_path / 'plots' / 'history.png'
    proc = subprocess.run([sys.executable, str(EXAMPLES / 'mnist_denoising_conv_ae.py'), '--synthetic', '--limit', '32',
                           '--epochs', '1', '--batch-size', '16', '--quiet', '--plot', str(plot)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = re.search(r'^RESULT model=keras_io\.conv_denoising_ae dataset=mnist-synthetic\S* metric=test_mse '
                       r'value=(\S+) epochs=1 ', proc.stdout, re.M)
    assert result, proc.stdout[-2000:]
    line = re.search(r'denoised vs clean: test MSE (\S+) \(PSNR (\S+) dB\), against (\S+) \((\S+) dB\)', proc.stdout)
    assert line and float(line.group(1)) == pytest.approx(float(result.group(1)), abs=1e-4)
    assert float(line.group(2)) == pytest.approx(cae.psnr(float(line.group(1))), abs=0.02)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert plot.exists() and (plot.parent / 'keras_io.conv_denoising_ae_samples.png').exists()
