"""CIFAR-10 transfer learning from ImageNet (cifar10_k), images resized to 224x224 (bilinear).
The backbones are ``minidl.applications.VGG16`` / ``DenseNet121`` with Keras' no-top ImageNet
weights: found in ~/.minidl/models/ or ~/.keras/models/ (or downloaded), or given with
``--weights`` (any Keras HDF5 weights of the network; see imagenet_weights.py).

``vgg16_features`` (cifar10_k.tl_vgg16_features, 75.19 %): frozen VGG16 + Flatten computes 25,088
features once (``predict``); a Dense 256-128 head (HeUniform, L2 1e-4, BN, ReLU, Dropout 0.6) is
trained on them with Adam, batch 256, up to 500 epochs, EarlyStopping(val_loss / val_accuracy,
patience 30, restore).
``vgg16_finetune`` (cifar10_k.tl_vgg16_finetune_aug, 87.16 %): VGG16 trainable from block5_conv1,
head dropouts 0.5, Adam(2e-5), augmentation (rotation 10, shifts 0.1, flips, brightness
0.9-1.2), batch 128, 200 steps per epoch, EarlyStopping patience 10.
``densenet121_finetune`` (cifar10_k.tl_densenet121_finetune_aug, 90.37 %): DenseNet121 with its last
30 layers trainable, head dropouts 0.4, Adam(1e-5), the same augmentation, patience 30.
The report rescales already-scaled arrays in its generators; here the generators get the raw
0-255 images with rescale=1/255, so training and test see the same scale. The last 5,000
training images are the validation set (size n/s). Very slow without a GPU; ``--image-size``
(default 224, at least 32) resizes to a smaller square for quick runs.

    python examples/cifar10_transfer.py --model vgg16_features --backend cupy
"""
import sys

from minidl import applications, callbacks, layers, models, optimizers, regularizers
from minidl.preprocessing.image import ImageDataGenerator

import common
import imagenet_weights

# --model -> (model id, backbone, head dropout, learning rate, patience)
VARIANTS = {
    'vgg16_features': ('cifar10_k.tl_vgg16_features', 'VGG16', 0.6, 1e-3, 30),
    'vgg16_finetune': ('cifar10_k.tl_vgg16_finetune_aug', 'VGG16', 0.5, 2e-5, 10),
    'densenet121_finetune': ('cifar10_k.tl_densenet121_finetune_aug', 'DenseNet121', 0.4, 1e-5, 30),
}
SIZE = 224
VALIDATION_SIZE = 5000
AUGMENTATION = dict(rotation_range=10, width_shift_range=0.1, height_shift_range=0.1,
                    horizontal_flip=True, brightness_range=(0.9, 1.2), rescale=1.0 / 255)


def head(dropout):
    """Dense 256 -> BN -> ReLU -> Dropout -> Dense 128 -> BN -> ReLU -> Dropout -> Dense 10."""
    stack = []
    for units in (256, 128):
        stack += [layers.Dense(units, kernel_initializer='he_uniform', kernel_regularizer=regularizers.l2(1e-4)),
                  layers.BatchNormalization(), layers.ReLU(), layers.Dropout(dropout)]
    return stack + [layers.Dense(10, activation='softmax')]


def base_with_flatten(name, weights, size=SIZE):
    """The report's ``model_pre*``: the ImageNet backbone + Flatten as one functional model
    (``Model(base.input, Flatten()(base.output))``), every layer frozen."""
    base = getattr(applications, name)(include_top=False, weights=weights, input_shape=(size, size, 3))
    flat = models.Model(base.input, layers.Flatten(name='flatten')(base.output), name=f'model_pre{name.lower()}')
    return imagenet_weights.freeze(flat)


def unfreeze(name, base):
    """VGG16: block5_conv1 onwards (what the report's loop does). DenseNet121: the last 30
    layers of base + Flatten (``model_prebase.layers[-30:]``)."""
    names = [layer.name for layer in base.layers]
    start = names.index('block5_conv1') if name == 'VGG16' else len(names) - 30
    for layer in base.layers[start:]:
        layer.trainable = True


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=500, batch_size=None)
    p.add_argument('--model', choices=list(VARIANTS), default='vgg16_features')
    p.add_argument('--weights', default=None,
                   help="Keras' no-top ImageNet weights of the backbone, or any Keras HDF5 weights file of that "
                        'network (default: the official file from ~/.minidl/models or ~/.keras/models)')
    p.add_argument('--steps-per-epoch', type=int, default=200)
    p.add_argument('--image-size', type=int, default=SIZE, help=f'side the images are resized to (default {SIZE})')
    args = p.parse_args()
    model_id, name, dropout, lr, patience = VARIANTS[args.model]
    weights, problem = imagenet_weights.find_weights(name, args.weights)
    if problem:
        sys.exit(imagenet_weights.missing_inputs(f'cifar10_transfer.py --model {args.model}', {'--weights': problem}))
    common.setup(args)
    args.batch_size = args.batch_size or (256 if args.model == 'vgg16_features' else 128)
    (x_raw, y_all), (x_test, y_test) = common.load_cifar(args, 'cifar10', scale=False)
    n_val = min(VALIDATION_SIZE, len(x_raw) // 10 or 1)
    x_train_raw, y_train = x_raw[:-n_val], y_all[:-n_val]
    validation = (x_raw[-n_val:] / 255.0, y_all[-n_val:])
    test = (x_test / 255.0, y_test)
    early = [callbacks.EarlyStopping(monitor=m, patience=patience, restore_best_weights=True)
             for m in ('val_loss', 'val_accuracy')]
    size = args.image_size
    base = base_with_flatten(name, weights, size)

    if args.model == 'vgg16_features':
        extractor = models.Sequential([layers.Input(shape=(32, 32, 3)), layers.Resizing(size, size), base])
        features = [extractor.predict(x, batch_size=args.batch_size, verbose=args.verbose)
                    for x in (x_train_raw / 255.0, validation[0], test[0])]
        model = models.Sequential([layers.Input(shape=features[0].shape[1:])] + head(dropout), name='tl_vgg16_head')
        model.compile(optimizer=optimizers.Adam(learning_rate=lr), loss='sparse_categorical_crossentropy',
                      metrics=['accuracy'])
        common.fit_and_report(args, model, model_id, (features[0], y_train), (features[2], test[1]),
                              validation_data=(features[1], validation[1]), callbacks=early)
        return
    unfreeze(name, base)
    model = models.Sequential([layers.Input(shape=(32, 32, 3)), layers.Resizing(size, size), base] + head(dropout),
                              name=f'tl_{name}_finetune')
    model.compile(optimizer=optimizers.Adam(learning_rate=lr), loss='sparse_categorical_crossentropy',
                  metrics=['accuracy'])
    flow = ImageDataGenerator(**AUGMENTATION).flow(x_train_raw, y_train, batch_size=args.batch_size, seed=args.seed)
    common.fit_and_report(args, model, model_id, (flow,), test, validation_data=validation, callbacks=early,
                          steps_per_epoch=min(args.steps_per_epoch, len(flow)))


if __name__ == '__main__':
    main()
