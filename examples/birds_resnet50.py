"""ResNet50 (ImageNet) on Caltech-UCSD Birds-200 (cifar100_b, section 4): 200 classes, 3,000
training and 3,033 test images, 10 % of training held out for validation. Needs Keras' ResNet50
no-top ImageNet weights (found in ~/.minidl/models/ or ~/.keras/models/, or downloaded, or given
with ``--weights``; see imagenet_weights.py) and the CUB-200 (2010) data set (``--birds-dir``:
the folder with ``images/`` and ``lists/train.txt``, ``lists/test.txt``; ``--synthetic`` uses
random images of the same shapes instead).

The backbone is ``minidl.applications.ResNet50(include_top=False, pooling='avg')`` and the
inputs go through ``applications.resnet50.preprocess_input`` (caffe mode), as in the course.
Feature extractor (frozen ResNet50 -> 2,048 features computed once), MLP heads trained 20 epochs: ``feat_v1`` Dense 512 (0.4247),
``feat_v2`` + Dropout 0.75 (0.3168), ``feat_v3`` Dense 512 -> Dropout 0.5 -> Dense 256 -> Dropout 0.5
(0.3653); ``--early-stopping`` trains up to 40 epochs with EarlyStopping(val_accuracy, 4, restore).
Fine-tuning (the whole network trained): ``ft_v1`` head 512 -> Dropout 0.75 (0.4566-0.4942),
``ft_v2`` 512 -> Dropout 0.75 -> 256 -> Dropout 0.5 (0.5417); ``--augment`` flip / flip+zoom0.2.
All use SGD(0.01, decay 1e-6, momentum 0.9, nesterov), batch 32, categorical cross-entropy.

    python examples/birds_resnet50.py --model feat_v1 --birds-dir CUB_200 --backend cupy
"""
import os
import sys

import numpy as np

from minidl import applications, callbacks, layers, models, optimizers
from minidl.applications.resnet50 import preprocess_input
from minidl.preprocessing.image import ImageDataGenerator
from minidl.utils import to_categorical

import common
import imagenet_weights

CLASSES = 200
SYNTHETIC_SIZES = (60, 30)  # train, test images under --synthetic without --limit

# --model -> (dense units, dropout after each)
HEADS = {
    'feat_v1': ((512,), (None,)),
    'feat_v2': ((512,), (0.75,)),
    'feat_v3': ((512, 256), (0.5, 0.5)),
    'ft_v1': ((512,), (0.75,)),
    'ft_v2': ((512, 256), (0.75, 0.5)),
}
AUGMENT = {'none': {}, 'flip': dict(horizontal_flip=True), 'flip+zoom0.2': dict(horizontal_flip=True, zoom_range=0.2)}


def load_birds(folder, size):
    """CUB-200 (2010) images resized to size x size (float32 RGB 0-255) and labels 0-199."""
    from PIL import Image

    def part(list_name):
        with open(os.path.join(folder, 'lists', list_name)) as f:
            paths = [line.strip() for line in f if line.strip()]
        x = np.empty((len(paths), size, size, 3), dtype='float32')
        for i, rel in enumerate(paths):
            with Image.open(os.path.join(folder, 'images', rel)) as img:
                x[i] = np.asarray(img.convert('RGB').resize((size, size), Image.BILINEAR), dtype='float32')
        y = np.array([int(rel.split('.', 1)[0]) - 1 for rel in paths])
        return x, y
    return part('train.txt'), part('test.txt')


def synthetic_birds(args, size):
    """Random 0-255 images and labels with the shapes of ``load_birds``."""
    rng = np.random.default_rng(args.seed)
    n_train, n_test = (args.limit, args.limit) if args.limit else SYNTHETIC_SIZES

    def part(n):
        return rng.uniform(0, 255, (n, size, size, 3)).astype('float32'), rng.integers(0, CLASSES, n)
    return part(n_train), part(n_test)


def head_layers(variant):
    units, rates = HEADS[variant]
    stack = []
    for u, rate in zip(units, rates):
        stack.append(layers.Dense(u, activation='relu'))
        if rate:
            stack.append(layers.Dropout(rate))
    return stack + [layers.Dense(CLASSES, activation='softmax')]


def compile_sgd(model):
    model.compile(optimizer=optimizers.SGD(learning_rate=0.01, decay=1e-6, momentum=0.9, nesterov=True),
                  loss='categorical_crossentropy', metrics=['accuracy'])


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=None, batch_size=32)
    p.add_argument('--model', choices=list(HEADS), default='feat_v1')
    p.add_argument('--weights', default=None,
                   help="Keras' ResNet50 no-top ImageNet weights, or any Keras HDF5 weights file of that network "
                        '(default: the official file from ~/.minidl/models or ~/.keras/models)')
    p.add_argument('--birds-dir', default=None, help='CUB-200 folder with images/ and lists/')
    p.add_argument('--image-size', type=int, default=224)
    p.add_argument('--early-stopping', action='store_true', help='feature heads: 40 epochs with EarlyStopping')
    p.add_argument('--augment', choices=list(AUGMENT), default='none', help='fine-tuning augmentation')
    args = p.parse_args()
    problems = {}
    weights, problem = imagenet_weights.find_weights('ResNet50', args.weights)
    if problem:
        problems['--weights'] = problem
    if not args.synthetic and not (args.birds_dir and os.path.isfile(os.path.join(args.birds_dir, 'lists',
                                                                                  'train.txt'))):
        problems['--birds-dir'] = ('the Caltech-UCSD Birds-200 (2010) folder with images/ and lists/train.txt, '
                                   f'lists/test.txt ({"not given" if not args.birds_dir else "not found: " + args.birds_dir})')
    if problems:
        sys.exit(imagenet_weights.missing_inputs(f'birds_resnet50.py --model {args.model}', problems))
    common.setup(args)
    args.epochs = args.epochs or (40 if args.early_stopping else 20)
    if args.synthetic:
        args.dataset_name = 'cub200-synthetic'
        (x_train, y_train), (x_test, y_test) = synthetic_birds(args, args.image_size)
    else:
        args.dataset_name = 'cub200' + (f'[:{args.limit}]' if args.limit else '')
        (x_train, y_train), (x_test, y_test) = load_birds(args.birds_dir, args.image_size)
        x_train, y_train, x_test, y_test = x_train[:args.limit], y_train[:args.limit], x_test[:args.limit], \
            y_test[:args.limit]
    y_train, y_test = to_categorical(y_train, CLASSES), to_categorical(y_test, CLASSES)
    fine_tune = args.model.startswith('ft')
    resnet = applications.ResNet50(include_top=False, weights=weights, pooling='avg',
                                   input_shape=(args.image_size, args.image_size, 3))
    imagenet_weights.freeze(resnet, trainable=fine_tune)
    model_id = f'cifar100_b.resnet50_{args.model}'
    x_test = preprocess_input(x_test)  # caffe mode, in place

    if not fine_tune:
        x_train = preprocess_input(x_train)
        features_train, features_test = (resnet.predict(x, batch_size=args.batch_size, verbose=args.verbose)
                                         for x in (x_train, x_test))
        model = models.Sequential([layers.Input(shape=(2048,))] + head_layers(args.model), name=args.model)
        compile_sgd(model)
        fit_kwargs = dict(validation_split=0.1, validation_data=None)
        if args.early_stopping:
            fit_kwargs['callbacks'] = [callbacks.EarlyStopping(monitor='val_accuracy', patience=4,
                                                               restore_best_weights=True)]
        common.fit_and_report(args, model, model_id, (features_train, y_train), (features_test, y_test), **fit_kwargs)
        return
    out = resnet.outputs[0]
    for layer in head_layers(args.model):
        out = layer(out)
    model = models.Model(resnet.inputs, out, name=args.model)
    compile_sgd(model)
    generator = ImageDataGenerator(preprocessing_function=preprocess_input, validation_split=0.1,
                                   **AUGMENT[args.augment])
    flow = generator.flow(x_train, y_train, batch_size=args.batch_size, subset='training', seed=args.seed)
    validation = generator.flow(x_train, y_train, batch_size=args.batch_size, subset='validation', seed=args.seed)
    common.fit_and_report(args, model, model_id, (flow,), (x_test, y_test), validation_data=validation,
                          steps_per_epoch=len(flow), validation_steps=len(validation))


if __name__ == '__main__':
    main()
