"""`faceprint eval lfw`, `faceprint eval pairs` and `faceprint eval identification` (registered by
eval_cmd)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from faceprint.cli._common import add_output_args, add_pipeline_args, pipeline_from_args, print_json, progress


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="faceprint-eval", help="folder for the JSON report and plots (default ./faceprint-eval)")
    p.add_argument("--no-cache", action="store_true", help="do not use the embedding cache")
    add_pipeline_args(p)
    add_output_args(p)


def register_lfw(eval_sub: argparse._SubParsersAction) -> None:
    p = eval_sub.add_parser("lfw", help="LFW View 2 protocol (10 folds) or any LFW-format pairs file")
    p.add_argument("--root", required=True, help="LFW folder (with images/<Name>/<Name>_NNNN.jpg)")
    p.add_argument("--pairs", default="pairs.txt", help="pairs file, relative to --root (default pairs.txt)")
    _common(p)
    p.set_defaults(func=run_lfw)


def register_pairs(eval_sub: argparse._SubParsersAction) -> None:
    p = eval_sub.add_parser("pairs", help="verification protocol on your own pairs (LFW format or CSV a,b,same)")
    p.add_argument("file")
    p.add_argument("--root", help="image root (default: the pairs file's folder)")
    p.add_argument("--folds", type=int, default=10, help="folds for CSV pairs (default 10)")
    p.add_argument("--select", default=None, help="face selection: largest (CSV default) or center (LFW default)")
    _common(p)
    p.set_defaults(func=run_pairs_cmd)


def register_identification(eval_sub: argparse._SubParsersAction) -> None:
    p = eval_sub.add_parser("identification", help="1:N protocol: closed-set CMC, open-set DIR@FPIR")
    p.add_argument("--root", required=True, help="folder-per-identity tree (LFW: the LFW folder)")
    p.add_argument("--seed", type=int, default=0, help="seed of the open-set held-out split")
    _common(p)
    p.set_defaults(func=run_identification_cmd)


def _cache(args: argparse.Namespace):
    from faceprint.eval.embedding_cache import EmbeddingCache

    return None if args.no_cache else EmbeddingCache()


def _finish(report: dict[str, Any], args: argparse.Namespace, name: str, title: str) -> int:
    from faceprint.eval.protocols.pairs import public_report, write_plots

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report["plots"] = write_plots(report, out, title)
    pub = public_report(report)
    (out / f"{name}.json").write_text(json.dumps(pub, indent=2))
    if args.json:
        print_json(pub)
        return 0
    print(f"{title}: {pub['n_pairs']} pairs ({pub['n_genuine']} genuine, {pub['n_impostor']} impostor), "
          f"{pub['n_images']} images, model {pub['model']}")
    if "folds" in pub:
        print("  fold  accuracy  threshold")
        for f in pub["folds"]:
            print(f"  {f['fold']:>4}  {f['accuracy']:.4f}    {f['threshold']:.4f}")
        print(f"  accuracy {pub['accuracy']:.4f} ± {pub['std_error']:.4f} (mean ± standard error, {pub['accuracy_protocol']})")
    else:
        print(f"  accuracy {pub['accuracy']:.4f} at threshold {pub['best_threshold']:.4f} ({pub['accuracy_protocol']})")
    print(f"  ROC AUC {pub['roc_auc']:.5f}   EER {pub['eer']:.4f} (threshold {pub['eer_threshold']:.4f})")
    for op in pub["tar_at_far"]:
        flag = "" if op["resolvable"] else "  (not resolvable with this many impostors)"
        print(f"  TAR@FAR={op['target_far']:g}: {op['tar']:.4f} at threshold {op['threshold']:.4f} "
              f"({op['n_impostor']} impostor pairs; FAR reached {op['far']:.4f}){flag}")
    nf = pub["no_face"]
    print(f"  no face found in {nf['count']} image(s): {nf['policy']}")
    print(f"  several faces in {pub['multiple_faces']['count']} image(s): {pub['multiple_faces']['policy']}")
    print(f"  report: {out / (name + '.json')}  plots: {report['plots']['roc']}, {report['plots']['det']}")
    return 0


def run_lfw(args: argparse.Namespace) -> int:
    from faceprint.eval.protocols.pairs import read_lfw_pairs, run_pairs

    root = Path(args.root)
    pairs_path = Path(args.pairs) if Path(args.pairs).is_file() else root / args.pairs
    pairset = read_lfw_pairs(pairs_path, root)
    report = run_pairs(pairset, pipeline_from_args(args), select="center", cache=_cache(args),
                       progress=lambda it, n: progress(it, n, args, "embed"))
    report["protocol"] = ("LFW View 2, unrestricted with labeled outside data" if pairset.n_folds == 10
                          else f"LFW-format pairs ({pairset.n_folds} set(s))")
    return _finish(report, args, "lfw", f"LFW {pairs_path.name}")


def run_pairs_cmd(args: argparse.Namespace) -> int:
    from faceprint.eval.protocols.pairs import read_pairs_file, run_pairs

    pairset, default_sel = read_pairs_file(args.file, args.root, n_folds=args.folds)
    report = run_pairs(pairset, pipeline_from_args(args), select=args.select or default_sel, cache=_cache(args),
                       progress=lambda it, n: progress(it, n, args, "embed"))
    return _finish(report, args, Path(args.file).stem, Path(args.file).name)


def run_identification_cmd(args: argparse.Namespace) -> int:
    from faceprint.eval.protocols.identification import run_identification, scan_identities
    from faceprint.eval.protocols.pairs import embed_images

    ids = scan_identities(args.root)
    t0 = time.perf_counter()
    embs, errors = embed_images(ids.all_images, pipeline_from_args(args), select="center", cache=_cache(args),
                                progress=lambda it, n: progress(it, n, args, "embed"))
    vectors = {p: e.vector for p, e in embs.items()}
    # unreadable images are dropped from the identity lists (reported)
    if errors:
        from faceprint.eval.protocols.identification import IdentitySet

        keep = [(n, tuple(p for p in imgs if p in vectors)) for n, imgs in zip(ids.names, ids.images, strict=True)]
        keep = [(n, imgs) for n, imgs in keep if imgs]
        ids = IdentitySet(tuple(n for n, _ in keep), tuple(i for _, i in keep))
    report = run_identification(ids, vectors, seed=args.seed)
    report["unreadable_images"] = {str(k): v for k, v in errors.items()}
    report["no_face_fallback"] = sum(1 for e in embs.values() if e.status == "fallback")
    report["embed_seconds"] = round(time.perf_counter() - t0, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "identification.json").write_text(json.dumps(report, indent=2))
    if args.json:
        print_json(report)
        return 0
    cs, os_ = report["closed_set"], report["open_set"]
    print(f"closed set: {cs['gallery_identities']} enrolled identities ({cs['distractor_identities']} distractors), "
          f"{cs['probes']} probes: rank-1 {cs['rank1']:.4f}, rank-5 {cs['rank5']:.4f}")
    print(f"open set: {os_['heldout_identities']} identities held out, {os_['mated_probes']} mated / "
          f"{os_['nonmated_probes']} non-mated probes")
    for pt in os_["points"]:
        print(f"  DIR@FPIR={pt['fpir_target']:g}: {pt['dir']:.4f} "
              f"(threshold {pt['threshold']:.4f}, FPIR reached {pt['fpir']:.4f})")
    print(f"report: {out / 'identification.json'}")
    return 0
