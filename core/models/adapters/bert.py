"""BERT and the families that keep its module layout: RoBERTa, XLM-R, CamemBERT, ELECTRA.

``<base>.encoder.layer[i]`` with ``attention.self.{query,key,value}``,
``attention.output.dense``, ``intermediate.dense`` and ``output.dense``
(``transformers/models/{bert,roberta,xlm_roberta,camembert,electra}``).
"""

from __future__ import annotations

from core.models.adapters.base import Adapter


class BertAdapter(Adapter):
    family = "bert"
    title = "BERT"
    model_types = ("bert",)


class RobertaAdapter(BertAdapter):
    family = "roberta"
    title = "RoBERTa"
    model_types = ("roberta",)


class XLMRobertaAdapter(BertAdapter):
    family = "xlm-roberta"
    title = "XLM-RoBERTa"
    model_types = ("xlm-roberta",)


class CamembertAdapter(BertAdapter):
    family = "camembert"
    title = "CamemBERT"
    model_types = ("camembert",)


class ElectraAdapter(BertAdapter):
    family = "electra"
    title = "ELECTRA"
    model_types = ("electra",)
