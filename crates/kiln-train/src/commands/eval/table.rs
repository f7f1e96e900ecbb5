//! The figures of drawn images as tables: in the terminal, and in Markdown between two marker
//! lines of the README (`kiln eval --all`).

use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use kiln_core::io::manifest::Evaluation;
use kiln_core::metrics::ClassTally;

use super::figures::{COLUMNS, SampleFigures};
use crate::atomic;

const TABLE_START: &str = "<!-- kiln eval --all -->";
const TABLE_END: &str = "<!-- end of kiln eval --all -->";

/// A model's figures in the terminal, beside the reference sets', and the classes it drew.
pub fn print_table(
    name: &str,
    evaluation: &Evaluation,
    figures: &SampleFigures,
    references: &[(String, SampleFigures)],
    tally: &ClassTally,
) {
    println!(
        "{name}: {} images, seed {}, judged by {}",
        evaluation.count, evaluation.seed, evaluation.judge
    );
    print_header("");
    print_row(name, figures);
    for (reference, figures) in references {
        print_row(reference, figures);
    }
    if let Some(likelihood) = &figures.likelihood {
        println!("  test images: {}", likelihood.describe());
    }
    let shares: Vec<String> = tally
        .histogram()
        .iter()
        .enumerate()
        .map(|(class, share)| format!("{class}: {:.1}%", 100.0 * share))
        .collect();
    println!("  predicted classes of {name}: {}", shares.join("  "));
    let asked: Vec<String> = tally
        .accuracy_by_class()
        .iter()
        .enumerate()
        .filter_map(|(class, accuracy)| accuracy.map(|a| format!("{class}: {:.1}%", 100.0 * a)))
        .collect();
    if !asked.is_empty() {
        println!("  the class asked for, by class: {}", asked.join("  "));
    }
}

/// The column heads of the terminal table, `label` over the first.
pub fn print_header(label: &str) {
    println!("  {}", terminal_row(label, COLUMNS.map(str::to_owned)));
}

/// One row of the terminal table.
pub fn print_row(row: &str, figures: &SampleFigures) {
    println!("  {}", terminal_row(row, figures.cells()));
}

fn terminal_row(row: &str, cells: [String; 7]) -> String {
    let [
        accuracy,
        fid,
        inception,
        precision,
        recall,
        entropy,
        ms_ssim,
    ] = cells;
    format!(
        "{row:<60} {accuracy:>19} {fid:>7} {inception:>13} {precision:>9} {recall:>7} {entropy:>13} \
         {ms_ssim:>18}"
    )
}

/// The figures as a Markdown table: the models, then the references in italics, then how they
/// were measured (as `measured` was).
pub fn markdown_table(
    models: &[(String, SampleFigures)],
    references: &[(String, SampleFigures)],
    measured: &Evaluation,
) -> String {
    let mut lines = vec![
        format!("| model | {} |", COLUMNS.join(" | ")),
        "|---|---:|---:|---:|---:|---:|---:|---:|".to_owned(),
    ];
    let rows = models
        .iter()
        .map(|(name, figures)| (format!("`{name}`"), figures))
        .chain(
            references
                .iter()
                .map(|(name, figures)| (format!("*{name}*"), figures)),
        );
    for (name, figures) in rows {
        lines.push(format!("| {name} | {} |", figures.cells().join(" | ")));
    }
    let likelihoods: Vec<String> = models
        .iter()
        .filter_map(|(name, figures)| {
            let likelihood = figures.likelihood.as_ref()?;
            Some(format!("`{name}` {}", likelihood.describe()))
        })
        .collect();
    if !likelihoods.is_empty() {
        lines.push(String::new());
        lines.push(format!(
            "Negative log-likelihood of the MNIST test digits (nats per digit, Bernoulli decoder \
             on grey levels; a CVAE's given the digit's label): {}.",
            likelihoods.join("; ")
        ));
    }
    lines.push(String::new());
    lines.push(format!(
        "{} images per model (seed {}), judged by {}; FID against the MNIST test digits. \
         Measured with `{}`.",
        measured.count, measured.seed, measured.judge, measured.command
    ));
    lines.join("\n")
}

/// Put `table` between the table markers of the Markdown file `path`: lines that hold nothing
/// else, so prose that quotes a marker is left alone.
pub fn rewrite_table(path: &Path, table: &str) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {} to rewrite its metrics table", path.display()))?;
    atomic::write(path, replace_table(&text, table, path)?.as_bytes())?;
    eprintln!("rewrote the metrics table in {}", path.display());
    Ok(())
}

/// `text` with the lines between its marker lines replaced by `table`.
fn replace_table(text: &str, table: &str, path: &Path) -> Result<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let marker_line = |marker: &str| -> Result<Option<usize>> {
        let found: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].trim() == marker)
            .collect();
        ensure!(
            found.len() <= 1,
            "{} has {} lines `{marker}`; keep one",
            path.display(),
            found.len()
        );
        Ok(found.first().copied())
    };
    let (Some(start), Some(end)) = (marker_line(TABLE_START)?, marker_line(TABLE_END)?) else {
        bail!(
            "{} has no lines `{TABLE_START}` and `{TABLE_END}` to put the metrics table between",
            path.display()
        );
    };
    ensure!(
        start < end,
        "{}: `{TABLE_END}` comes before `{TABLE_START}`",
        path.display()
    );
    Ok(format!(
        "{}{table}\n{}",
        lines[..=start].concat(),
        lines[end..].concat()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_goes_between_marker_lines_only() {
        let text = format!(
            "Run it to rewrite `{TABLE_START}`.\n{TABLE_START}\nold\n{TABLE_END}\nThe end.\n"
        );
        let path = Path::new("README.md");
        assert_eq!(
            replace_table(&text, "| new |", path).unwrap(),
            format!(
                "Run it to rewrite `{TABLE_START}`.\n{TABLE_START}\n| new |\n{TABLE_END}\nThe end.\n"
            )
        );
        let twice = format!("{TABLE_START}\n{TABLE_START}\n{TABLE_END}\n");
        let err = replace_table(&twice, "", path).unwrap_err().to_string();
        assert!(err.contains("has 2 lines"), "{err}");
        let reversed = format!("{TABLE_END}\n{TABLE_START}\n");
        assert!(replace_table(&reversed, "", path).is_err());
    }
}
