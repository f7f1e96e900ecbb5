//! Judging drawn images with a classifier, against the data's test set (Fréchet distance,
//! precision and recall) and on their own (Inception Score, class accuracy and coverage); and a
//! VAE's likelihood bounds on the test images.

use anyhow::{Context, Result, bail, ensure};
use burn::tensor::{Device, Tensor, TensorData};
use kiln_core::audio::griffin_lim::ITERATIONS;
use kiln_core::audio::{Spectrogram, SpectrogramSettings};
use kiln_core::data::dataset::{ImageDataset, ImageShape};
use kiln_core::io::manifest::GuidedEvaluation;
use kiln_core::io::weights;
use kiln_core::metrics::{
    ClassSamples, ClassTally, FeatureStatistics, INCEPTION_SCORE_SPLITS, MANIFOLD_NEIGHBOURS,
    frechet_distance, inception_score, precision_recall,
};
use kiln_core::model::Model;
use kiln_core::models::classifier::Classifier;
use kiln_core::models::vae::Vae;
use kiln_core::noise;
use kiln_core::request::{DiffusionRequest, MAX_SAMPLE_COUNT, SampleRequest};

use super::figures::{Likelihood, SampleFigures};
use super::table::{print_header, print_row};
use super::{BATCH, host_values, manifest_entry, measured, total};
use crate::cli::EvalArgs;
use crate::resolve::{self, Resolved};
use crate::{atomic, progress};

/// What the classifier's outputs are called when they cannot be read.
const CLASSIFIER_OUTPUTS: &str = "the classifier's outputs";

/// Decoder passes per batch of the likelihood bound (digits × draws): bounds memory.
const LIKELIHOOD_DRAWS_PER_BATCH: usize = 2_000;

/// What judges a model's samples: the classifier and the test set it is compared with.
pub struct Judgement<'a> {
    pub args: &'a EvalArgs,
    pub classifier: &'a Classifier,
    pub test: &'a TestSet,
    pub test_digits: &'a ImageDataset,
    /// A sound model's spectrograms: its drawn ones are judged as they sound ([`heard`]).
    pub heard: Option<&'a Spectrogram>,
    pub device: &'a Device,
}

impl Judgement<'_> {
    /// The model `resolved`, if the classifier tells apart every class it draws.
    pub fn load(&self, name: &str, resolved: &Resolved) -> Result<Model> {
        let model = resolved
            .spec
            .load(&resolved.weights, self.device)
            .with_context(|| format!("loading {name}"))?;
        let (drawn, told) = (
            model.num_classes().unwrap_or(0),
            self.classifier.num_classes(),
        );
        ensure!(
            drawn <= told,
            "{name} draws {drawn} classes, but its judge {} tells only {told} apart",
            self.args.classifier
        );
        Ok(model)
    }

    /// Draw `--count` images from the model (a diffusion model with `diffusion`'s sampler
    /// options) and judge them against the test set; a VAE also gets its likelihood bounds on
    /// the test digits.
    pub fn samples(
        &self,
        name: &str,
        model: &Model,
        diffusion: DiffusionRequest,
    ) -> Result<(SampleFigures, ClassTally)> {
        let (args, device) = (self.args, self.device);
        let bar = progress::bar(args.count as u64, format!("judging {name}"));
        let mut generated = Judged::new(self.classifier);
        for (batch, seed) in (args.seed..).enumerate() {
            let count = BATCH
                .min(args.count - generated.tally.total())
                .min(MAX_SAMPLE_COUNT);
            if count == 0 {
                break;
            }
            let images = model
                .sample(
                    SampleRequest::new(count, seed)?.with_diffusion(diffusion),
                    device,
                )
                .with_context(|| format!("drawing batch {batch} from {name}"))?;
            let images = match self.heard {
                Some(spectrogram) => heard(spectrogram, images)?,
                None => images,
            };
            // Without a class, a conditional model draws image i as digit i mod num_classes.
            let requested: Option<Vec<usize>> = model
                .num_classes()
                .map(|n| (0..count).map(|i| i % n).collect());
            generated.add(self.classifier, images, requested.as_deref())?;
            bar.inc(count as u64);
        }
        bar.finish_and_clear();
        let mut figures = generated.figures(self.test, args.count);
        if let Some(vae) = model.capable().vae() {
            figures.likelihood = Some(self.likelihood(name, vae)?);
        }
        Ok((figures, generated.tally))
    }

    /// `--guidance-sweep`: a diffusion model's figures at each guidance weight, as a table (and
    /// into its manifest entry with `--record`).
    pub fn guidance_sweep(
        &self,
        name: &str,
        resolved: &Resolved,
        judge: &str,
        references: &[(String, SampleFigures)],
    ) -> Result<()> {
        let args = self.args;
        let model = self.load(name, resolved)?;
        ensure!(
            model.capable().diffusion().is_some(),
            "--guidance-sweep applies only to diffusion models such as ddpm, and {name} is a {} model",
            model.kind()
        );
        let mut weights = args.guidance_sweep.clone();
        weights.sort_by(f64::total_cmp);
        weights.dedup();
        println!(
            "{name}: {} images per guidance weight, seed {}, judged by {judge}",
            args.count, args.seed
        );
        let mut sweep = Vec::with_capacity(weights.len());
        let mut rows = Vec::with_capacity(weights.len());
        for guidance in weights {
            let diffusion = DiffusionRequest::new(
                args.diffusion.sampler,
                args.diffusion.steps,
                Some(guidance),
            )?;
            let (figures, _) =
                self.samples(&format!("{name} at guidance {guidance}"), &model, diffusion)?;
            sweep.push(GuidedEvaluation {
                guidance,
                evaluation: measured(args, args.count, judge, &figures),
            });
            rows.push((format!("w = {guidance}"), figures));
        }
        print_header("guidance");
        for (row, figures) in rows.iter().chain(references) {
            print_row(row, figures);
        }
        if args.record {
            let mut manifest = resolve::read_manifest(&args.manifest)?;
            let entry = manifest_entry(&mut manifest, name, &args.manifest)?;
            entry.guidance_sweep = sweep;
            atomic::write(&args.manifest, manifest.to_json().as_bytes())?;
            eprintln!("recorded the sweep in {}", args.manifest.display());
        }
        Ok(())
    }

    /// A VAE's bounds on the negative log-likelihood of the first `--count` test digits, in nats
    /// per digit (a CVAE's given the true labels): −ELBO and the importance-weighted bound.
    fn likelihood(&self, name: &str, vae: &Vae) -> Result<Likelihood> {
        let (args, test) = (self.args, self.test_digits);
        let samples = args.importance_samples as usize;
        let indices: Vec<usize> = (0..args.count.min(test.len())).collect();
        let bar = progress::bar(indices.len() as u64, format!("bounding log p(x) of {name}"));
        let (mut negative_elbo, mut importance_weighted) = (0.0, 0.0);
        let digits_per_batch = (LIKELIHOOD_DRAWS_PER_BATCH / samples).max(1);
        for (batch, chunk) in indices.chunks(digits_per_batch).enumerate() {
            let labels = vae
                .num_classes()
                .map(|_| test.label_tensor(chunk, self.device));
            let images = test.images(chunk, self.device);
            let bounds = vae.likelihood_bounds(images, &labels, samples, args.seed + batch as u64);
            negative_elbo += total(bounds.negative_elbo)?;
            importance_weighted += total(bounds.importance_weighted)?;
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        let digits = indices.len() as f64;
        Ok(Likelihood {
            test_negative_elbo_nats: negative_elbo / digits,
            test_nll_bound_nats: importance_weighted / digits,
            importance_samples: samples as f64,
        })
    }
}

/// The classifier that judges the samples.
pub struct Judge {
    pub classifier: Classifier,
    /// How the figures name it: its name and weight hash.
    pub label: String,
    /// The class names it was trained with (`None`: the digits 0–9, or not recorded).
    pub classes: Option<Vec<String>>,
    /// A judge of sound: the spectrograms it reads.
    pub spectrogram: Option<SpectrogramSettings>,
}

/// The classifier `--judge` names.
pub fn load_judge(args: &EvalArgs, device: &Device) -> Result<Judge> {
    let judge = resolve::resolve(&args.classifier, &args.manifest)?;
    let model = judge
        .spec
        .load(&judge.weights, device)
        .with_context(|| format!("loading the classifier {}", args.classifier))?;
    let Some(classifier) = model.capable().recogniser() else {
        bail!("--classifier {} is not a classifier", args.classifier);
    };
    Ok(Judge {
        classifier: classifier.clone(),
        label: format!(
            "{} (sha256 {})",
            args.classifier,
            &weights::sha256_hex(&judge.weights)[..12]
        ),
        classes: judge.classes,
        spectrogram: judge.spectrogram,
    })
}

/// What is heard of `spectrograms`: each made into sound (Griffin–Lim) and analysed again, so
/// that a sound model is judged by its clips, not by pictures no one hears.
fn heard(spectrogram: &Spectrogram, spectrograms: Tensor<4>) -> Result<Tensor<4>> {
    let (shape, device) = (spectrogram.settings().image_shape(), spectrograms.device());
    let values = host_values(spectrograms, "the spectrograms drawn")?;
    let mut again = Vec::with_capacity(values.len());
    for image in values.chunks(shape.values()) {
        again.extend(spectrogram.image(&spectrogram.sound(image, ITERATIONS)?));
    }
    let count = values.len() / shape.values();
    let dims = [count, shape.channels, shape.side, shape.side];
    Ok(Tensor::from_data(TensorData::new(again, dims), &device))
}

/// The test set as the metrics compare against it.
pub struct TestSet {
    statistics: FeatureStatistics,
    judged: Judged,
}

impl TestSet {
    pub fn new(judged: Judged) -> Self {
        Self {
            statistics: FeatureStatistics::from_rows(&judged.features, judged.feature_size),
            judged,
        }
    }
}

/// What the classifier makes of a set of images: features, class probabilities and the
/// predicted classes; and the first images of each class, to see how alike they are.
pub struct Judged {
    features: Vec<f32>,
    probabilities: Vec<f32>,
    feature_size: usize,
    pub tally: ClassTally,
    samples: ClassSamples,
}

impl Judged {
    /// Nothing yet, to be judged by `classifier`.
    pub fn new(classifier: &Classifier) -> Self {
        let classes = classifier.num_classes();
        Self {
            features: Vec::new(),
            probabilities: Vec::new(),
            feature_size: 0,
            tally: ClassTally::new(classes),
            samples: ClassSamples::new(classifier.image_shape(), classes),
        }
    }

    /// The first `count` images of `data` (all of them if it has fewer); spectrograms as they
    /// sound, if `heard`.
    pub fn real(
        classifier: &Classifier,
        data: &ImageDataset,
        count: usize,
        heard: Option<&Spectrogram>,
        device: &Device,
    ) -> Result<Self> {
        let mut judged = Self::new(classifier);
        let indices: Vec<usize> = (0..count.min(data.len())).collect();
        for chunk in indices.chunks(BATCH) {
            let labels: Vec<usize> = chunk.iter().map(|&i| data.labels()[i].into()).collect();
            let images = data.images(chunk, device);
            let images = match heard {
                Some(spectrogram) => self::heard(spectrogram, images)?,
                None => images,
            };
            judged.add_of(classifier, images, None, Some(&labels))?;
        }
        Ok(judged)
    }

    /// `count` images of pixels drawn uniformly from [0, 1) with `seed`, of the shape the
    /// classifier reads.
    pub fn noise(
        classifier: &Classifier,
        count: usize,
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        let ImageShape { channels, side } = classifier.image_shape();
        let values_per_image = channels * side * side;
        let mut judged = Self::new(classifier);
        let values = noise::uniform_values(seed, count * values_per_image);
        for values in values.chunks(BATCH * values_per_image) {
            let shape = [values.len() / values_per_image, channels, side, side];
            let images = Tensor::from_data(TensorData::new(values.to_vec(), shape), device);
            judged.add(classifier, images, None)?;
        }
        Ok(judged)
    }

    /// Judge `images`, drawn as the classes `requested` (a conditional model's).
    pub fn add(
        &mut self,
        classifier: &Classifier,
        images: Tensor<4>,
        requested: Option<&[usize]>,
    ) -> Result<()> {
        self.add_of(classifier, images, requested, None)
    }

    /// Judge `images`, keeping the first of each class (their true `classes` if known, else
    /// those asked for, else those the classifier sees) to compare them.
    fn add_of(
        &mut self,
        classifier: &Classifier,
        images: Tensor<4>,
        requested: Option<&[usize]>,
        classes: Option<&[usize]>,
    ) -> Result<()> {
        let pixels = host_values(images.clone(), "the images judged")?;
        let (features, probabilities) = classifier.features_and_probabilities(images);
        self.feature_size = features.dims()[1];
        self.features
            .extend(host_values(features, CLASSIFIER_OUTPUTS)?);
        let probabilities = host_values(probabilities, CLASSIFIER_OUTPUTS)?;
        let told = self.tally.classes();
        let predicted: Vec<usize> = probabilities
            .chunks_exact(told)
            .map(|row| (0..told).fold(0, |best, c| if row[c] > row[best] { c } else { best }))
            .collect();
        self.tally.add(&predicted, requested);
        self.probabilities.extend(probabilities);
        let classes = classes.or(requested).unwrap_or(&predicted);
        self.samples.add(&pixels, classes);
        Ok(())
    }

    /// This set's figures against `test`; precision and recall against the first `count` test
    /// images (the manifold estimate is biased unless both sets are the same size).
    pub fn figures(&self, test: &TestSet, count: usize) -> SampleFigures {
        let dim = self.feature_size;
        let fid = frechet_distance(
            &FeatureStatistics::from_rows(&self.features, dim),
            &test.statistics,
        );
        let classes = self.tally.classes();
        let inception = inception_score(&self.probabilities, classes, INCEPTION_SCORE_SPLITS);
        let test = &test.judged.features;
        let real = &test[..count.min(test.len() / dim) * dim];
        let manifold = precision_recall(real, &self.features, dim, MANIFOLD_NEIGHBOURS);
        SampleFigures {
            fid,
            inception_score: inception.mean,
            inception_score_std: inception.std,
            precision: manifold.precision,
            recall: manifold.recall,
            class_entropy: self.tally.normalized_entropy(),
            conditional_accuracy: self.tally.conditional_accuracy(),
            worst_class_accuracy: self.tally.worst_class_accuracy(),
            intra_class_ms_ssim: self.samples.mean_intra_class_ms_ssim(),
            likelihood: None,
        }
    }
}
