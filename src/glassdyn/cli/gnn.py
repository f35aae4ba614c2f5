"""Subcommands of the graph-network rules (``train``, ``evaluate``) and ``import-weights``."""
from __future__ import annotations

from glassdyn.cli.common import add_config, full_config, step_config
from glassdyn.gnn import evaluate, train
from glassdyn.gnn.trained import load_trained
from glassdyn.models import published


def cmd_train(a):
    reads = train.PRETRAIN_READS if a.pretrain else train.READS
    cfg = step_config(a, reads, model=a.model)
    train.train_cell(cfg, a.model, a.T, a.time_index, a.labels, a.output_dir, pretrained=a.pretrained,
                     pretrain=a.pretrain, device=a.device or full_config(a)["training"]["device"])


def cmd_evaluate(a):
    evaluate.evaluate_cell(step_config(a, evaluate.READS, T=a.T), a.model_file, a.labels, a.output)


def cmd_import_weights(a):
    out = published.import_weights(a.weights, a.output, full_config(a), steps=a.steps, T=a.T,
                                    time_index=a.time_index)
    load_trained(out, device="cpu")   # the file written is one predict/evaluate/train read
    print(f"wrote {out}")


def register(sub) -> None:
    p = sub.add_parser("train", help="train one (model, T, time) cell of NT-GNN or BOTAN")
    add_config(p)
    p.add_argument("--model", required=True)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--time-index", required=True, type=int)
    p.add_argument("--labels", nargs="+", required=True, help="labels.h5 of the training configurations")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--pretrained", help="model.pt to start from")
    p.add_argument("--pretrain", action="store_true", help="BOTAN pretraining: p = 0 on edges")
    p.add_argument("--device", help="auto | cpu | cuda (default: training.device)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="Pearson correlations of one trained cell on test configurations")
    add_config(p)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--model-file", required=True)
    p.add_argument("--labels", nargs="+", required=True)
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("import-weights", help="a published BOTAN network (pyg_botan .pth) as a glassdyn model.pt")
    add_config(p)
    p.add_argument("weights", help="published state dict, e.g. model1.pth of the BOTAN code")
    p.add_argument("--output", required=True, help="glassdyn model file to write")
    p.add_argument("--steps", type=int, default=published.PUBLISHED_STEPS,
                   help=f"message-passing cycles of the published network ({published.PUBLISHED_STEPS})")
    p.add_argument("--T", type=float, help="temperature of the cell it is filed under (default: models.botan.pretrain)")
    p.add_argument("--time-index", type=int, help="time index of that cell, read by `evaluate` (default: pretrain's)")
    p.set_defaults(func=cmd_import_weights)
