"""``Sequence`` (Keras 2) and ``PyDataset`` (Keras 3): a dataset that yields batch ``i`` on
``dataset[i]`` and knows its number of batches, for ``fit``/``evaluate``/``predict``."""


class PyDataset:
    """Subclass it and define ``__len__`` (batches per epoch) and ``__getitem__(i)`` returning
    ``x``, ``(x, y)`` or ``(x, y, sample_weight)``; ``on_epoch_end`` runs after every epoch
    (shuffle there). ``workers``/``use_multiprocessing``/``max_queue_size`` are accepted for
    Keras compatibility; minidl loads batches in the training thread."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers, self.use_multiprocessing, self.max_queue_size = workers, use_multiprocessing, max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError(f'{type(self).__name__} must define __getitem__(index) returning a batch.')

    def __len__(self):
        raise NotImplementedError(f'{type(self).__name__} must define __len__() (the number of batches).')

    @property
    def num_batches(self):
        return len(self)

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


Sequence = PyDataset
