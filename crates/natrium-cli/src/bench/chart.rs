//! The comparison table as a bar chart (SVG): one bar per row, natrium-server's advantage
//! over nats-server, so a reader sees the ratios at a glance.

use plotters::prelude::*;
use plotters::style::text_anchor;

/// One row of the comparison, as a bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// The workload and metric, as the table names them.
    pub label: String,
    /// How many times better natrium-server did: the ratio for rates, its inverse where lower
    /// is better. Above 1: natrium-server ahead.
    pub advantage: f64,
}

/// Pixels per bar, and the space for labels.
const ROW_HEIGHT: u32 = 22;
const LABEL_WIDTH: u32 = 560;
const PLOT_WIDTH: u32 = 460;

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// No row had a value on both servers.
    #[error("no row has a result on both servers")]
    Empty,
    /// The drawing backend failed.
    #[error("drawing the chart: {0}")]
    Draw(String),
}

/// Renders `bars` under `title` as an SVG document.
pub fn svg(title: &str, bars: &[Bar]) -> Result<String, ChartError> {
    let bars: Vec<&Bar> = bars
        .iter()
        .filter(|b| b.advantage.is_finite() && b.advantage > 0.0)
        .collect();
    if bars.is_empty() {
        return Err(ChartError::Empty);
    }
    let draw = |e: &dyn std::fmt::Display| ChartError::Draw(e.to_string());
    let max = bars.iter().map(|b| b.advantage).fold(1.0, f64::max);
    let x_end = (max * 1.1).ceil().max(2.0);
    let rows = bars.len() as u32;
    let size = (LABEL_WIDTH + PLOT_WIDTH, rows * ROW_HEIGHT + 90);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(LABEL_WIDTH - 20)
            .build_cartesian_2d(0.0..x_end, 0.0..f64::from(rows))
            .map_err(|e| draw(&e))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(x_end as usize + 1)
            .light_line_style(WHITE)
            .x_desc("natrium-server's advantage over nats-server (×; above 1: natrium ahead)")
            .x_label_formatter(&|x| format!("{x:.1}×"))
            .draw()
            .map_err(|e| draw(&e))?;
        for (i, bar) in bars.iter().enumerate() {
            // The first row at the top.
            let top = f64::from(rows) - i as f64;
            let color = if bar.advantage >= 1.0 {
                RGBColor(46, 125, 50)
            } else {
                RGBColor(198, 40, 40)
            };
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, top - 0.85), (bar.advantage, top - 0.15)],
                    color.filled(),
                )))
                .map_err(|e| draw(&e))?;
            let (x, y) = chart.backend_coord(&(0.0, top - 0.5));
            root.draw_text(
                &format!("{}  {:.2}×", bar.label, bar.advantage),
                &("sans-serif", 12)
                    .into_font()
                    .color(&BLACK)
                    .pos(text_anchor::Pos::new(
                        text_anchor::HPos::Right,
                        text_anchor::VPos::Center,
                    )),
                (x - 6, y),
            )
            .map_err(|e| draw(&e))?;
        }
        // Parity: the line where both servers are equal.
        chart
            .draw_series(LineSeries::new(
                [(1.0, 0.0), (1.0, f64::from(rows))],
                BLACK.stroke_width(1),
            ))
            .map_err(|e| draw(&e))?;
        root.present().map_err(|e| draw(&e))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(label: &str, advantage: f64) -> Bar {
        Bar {
            label: label.to_owned(),
            advantage,
        }
    }

    #[test]
    fn every_row_is_a_labelled_bar() {
        let doc = svg(
            "core NATS",
            &[bar("pub 16 B msgs/s", 2.5), bar("p99 µs", 0.8)],
        )
        .expect("chart");
        assert!(doc.starts_with("<svg"), "{}", &doc[..40]);
        assert!(doc.contains("pub 16 B msgs/s  2.50×"));
        assert!(doc.contains("p99 µs  0.80×"));
        assert!(doc.contains("core NATS"));
        // One green and one red bar.
        assert!(doc.contains("#2E7D32"), "green bar");
        assert!(doc.contains("#C62828"), "red bar");
    }

    #[test]
    fn rows_without_a_result_are_left_out_and_none_is_an_error() {
        let doc = svg("x", &[bar("ok", 1.2), bar("failed", f64::NAN)]).expect("chart");
        assert!(!doc.contains("failed"));
        assert!(matches!(
            svg("x", &[bar("failed", f64::NAN)]),
            Err(ChartError::Empty)
        ));
    }
}
