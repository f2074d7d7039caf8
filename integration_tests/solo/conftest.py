"""Shared helpers: an exported digits image folder and solo-style flags for tiny CPU runs."""
import pytest


@pytest.fixture(scope="session")
def digits_folder(tmp_path_factory):
    from rpc_solo.data import export

    return export("digits", str(tmp_path_factory.mktemp("digits")), n_train=128, n_val=64, size=32)


def solo_flags(data_dir, *extra, method="rpc", batch_size=32):
    """The flags a solo-learn 1.0.2 bash script passes, sized for a CPU smoke run."""
    return [
        "--method", method, "--dataset", "custom", "--data_dir", data_dir, "--train_dir", "train",
        "--val_dir", "val", "--encoder", "resnet18", "--optimizer", "sgd", "--scheduler", "cosine",
        "--lr", "0.1", "--batch_size", str(batch_size), "--max_epochs", "1", "--brightness", "0.4",
        "--contrast", "0.4", "--saturation", "0.2", "--hue", "0.1", "--crop_size", "32",
        "--proj_hidden_dim", "64", "--proj_output_dim", "32", "--temperature", "0.2", "--num_workers", "0",
        "--progress_bar_refresh_rate", "0", "--limit_val_batches", "1", *extra,
    ]
