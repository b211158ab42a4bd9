//! SVG plots with plotters' SVG backend (no fonts or system libraries: the
//! text is SVG `<text>`, laid out with plotters' built-in estimate).

use std::path::Path;

use plotters::prelude::*;

/// One bar: a label, a value and an optional interval around it.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub interval: Option<(f64, f64)>,
}

const LABEL_W: i32 = 430;
const ROW_H: i32 = 22;

fn err<E: std::fmt::Display>(e: E) -> String {
    format!("plot: {e}")
}

/// Horizontal bars with whiskers and an optional reference line (the
/// instruction floor, or 1.0 for ratios), x from 0 to at most `x_cap`.
pub fn bars(
    path: &Path,
    title: &str,
    unit: &str,
    rows: &[Bar],
    reference: Option<(f64, &str)>,
    x_cap: Option<f64>,
) -> Result<(), String> {
    let x_min = 0.0;
    if rows.is_empty() {
        return Ok(());
    }
    let width = 1000;
    let height = (90 + rows.len() as i32 * ROW_H) as u32;
    let root = SVGBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let x_max = rows
        .iter()
        .map(|r| r.interval.map_or(r.value, |i| i.1.max(r.value)))
        .chain(reference.map(|r| r.0))
        .fold(0.0f64, f64::max)
        * 1.08;
    // Whiskers past the cap are clipped at the edge (the numbers are in
    // the tables).
    let x_max = x_cap.map_or(x_max, |c| x_max.min(c));
    let (left, right) = (LABEL_W, width as i32 - 30);
    let top = 40;
    let scale = |v: f64| {
        left + (((v - x_min) / (x_max - x_min)).clamp(0.0, 1.0) * (right - left) as f64) as i32
    };
    let text = ("sans-serif", 13).into_font();
    root.draw(&Text::new(
        title.to_string(),
        (10, 12),
        ("sans-serif", 16).into_font(),
    ))
    .map_err(err)?;
    for (i, r) in rows.iter().enumerate() {
        let y = top + i as i32 * ROW_H;
        root.draw(&Text::new(r.label.clone(), (10, y + 4), text.clone()))
            .map_err(err)?;
        root.draw(&Rectangle::new(
            [(scale(x_min), y + 3), (scale(r.value), y + ROW_H - 3)],
            RGBColor(74, 127, 181).filled(),
        ))
        .map_err(err)?;
        if let Some((lo, hi)) = r.interval {
            let mid = y + ROW_H / 2;
            root.draw(&PathElement::new(
                vec![(scale(lo), mid), (scale(hi), mid)],
                BLACK.stroke_width(2),
            ))
            .map_err(err)?;
            for x in [scale(lo), scale(hi)] {
                root.draw(&PathElement::new(vec![(x, mid - 5), (x, mid + 5)], BLACK))
                    .map_err(err)?;
            }
        }
    }
    let bottom = top + rows.len() as i32 * ROW_H;
    root.draw(&PathElement::new(
        vec![(left, bottom + 2), (right, bottom + 2)],
        BLACK,
    ))
    .map_err(err)?;
    for k in 0..=4 {
        let v = x_min + (x_max - x_min) * k as f64 / 4.0;
        let x = scale(v);
        root.draw(&PathElement::new(
            vec![(x, bottom + 2), (x, bottom + 7)],
            BLACK,
        ))
        .map_err(err)?;
        root.draw(&Text::new(
            format!("{v:.3}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string(),
            (x - 10, bottom + 10),
            text.clone(),
        ))
        .map_err(err)?;
    }
    root.draw(&Text::new(
        unit.to_string(),
        (right - 200, bottom + 30),
        text.clone(),
    ))
    .map_err(err)?;
    if let Some((v, what)) = reference {
        let x = scale(v);
        root.draw(&PathElement::new(
            vec![(x, top - 4), (x, bottom + 2)],
            RED.stroke_width(2),
        ))
        .map_err(err)?;
        root.draw(&Text::new(
            what.to_string(),
            (x + 4, top - 14),
            ("sans-serif", 12).into_font().color(&RED),
        ))
        .map_err(err)?;
    }
    root.present().map_err(err)
}

/// One line of the size sweep: median MiB/s per payload size, with the
/// interval of the median.
pub struct Series {
    pub label: String,
    /// (payload bytes, MiB/s at the median, (low, high) MiB/s)
    pub points: Vec<(u64, f64, (f64, f64))>,
}

/// Throughput against payload size (log2 x axis), one line per
/// configuration, whiskers for the intervals.
pub fn sweep(path: &Path, title: &str, series: &[Series]) -> Result<(), String> {
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0.0f64);
    for &(b, _, (_, hi)) in pts {
        let x = (b as f64).log2();
        (x0, x1, y1) = (x0.min(x), x1.max(x), y1.max(hi));
    }
    if series.is_empty() || x0 >= x1 {
        return Ok(());
    }
    let root = SVGBackend::new(path, (1000, 620)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((x0 - 0.3)..(x1 + 0.3), 0.0..y1 * 1.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("payload size")
        .y_desc("MiB/s (median, 95% CI)")
        .x_labels(((x1 - x0) as usize + 1).min(12))
        .x_label_formatter(&|x| crate::analysis::size_label(2f64.powf(x.round()) as u64))
        .draw()
        .map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let line: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|p| ((p.0 as f64).log2(), p.1))
            .collect();
        chart
            .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(s.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(s.points.iter().map(|p| {
                ErrorBar::new_vertical((p.0 as f64).log2(), p.2.0, p.1, p.2.1, color.filled(), 6)
            }))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}
