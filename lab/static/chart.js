/* Line charts on a canvas: axes, ticks, linear or log scale, several series, redrawn on resize.
 *
 * A series is {color, dash, dots, points: [[x, y], ...]}; y may be null (a gap). Colours
 * are CSS colours, read from the page's variables by the caller, so the charts follow the
 * light and dark schemes.
 */

const PAD = { left: 52, right: 12, top: 10, bottom: 30 };

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
}

function linearTicks(low, high, count) {
  const step = niceStep(high - low, count);
  const ticks = [];
  for (let t = Math.ceil(low / step - 1e-9) * step; t <= high + step * 1e-9; t += step) ticks.push(t);
  return ticks;
}

function label(value, log) {
  if (value === 0) return "0";
  if (log) return value >= 1e-2 && value < 1e4 ? String(+value.toPrecision(2)) : value.toExponential(0);
  const abs = Math.abs(value);
  return abs >= 1e4 || abs < 1e-3 ? value.toExponential(1) : String(+value.toPrecision(4));
}

export class LineChart {
  /* options: {log, yMin, yMax, percent, xLabel, yLabel, logFloor} */
  constructor(canvas, options = {}) {
    this.canvas = canvas;
    this.options = options;
    this.series = [];
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  update(series) {
    this.series = series;
    this.draw();
  }

  range() {
    const { log, yMin, yMax, logFloor = 1e-8 } = this.options;
    let xHigh = 0;
    let low = Infinity;
    let high = -Infinity;
    for (const s of this.series) {
      for (const [x, y] of s.points) {
        xHigh = Math.max(xHigh, x);
        if (y === null || !Number.isFinite(y) || (log && y <= 0)) continue;
        low = Math.min(low, y);
        high = Math.max(high, y);
      }
    }
    if (!Number.isFinite(low)) [low, high] = log ? [0.1, 10] : [0, 1];
    if (log) {
      low = Math.max(logFloor, 10 ** Math.floor(Math.log10(low)));
      high = 10 ** Math.ceil(Math.log10(high));
      if (high <= low) high = low * 10;
    } else {
      low = yMin ?? low;
      high = yMax ?? high;
      if (high <= low) high = low + 1;
    }
    return { xHigh: xHigh > 0 ? xHigh : 1, low, high };
  }

  draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const { log, percent, xLabel } = this.options;
    const { xHigh, low, high } = this.range();
    const plotW = width - PAD.left - PAD.right;
    const plotH = height - PAD.top - PAD.bottom;
    const fx = (x) => PAD.left + (x / xHigh) * plotW;
    const ly = (y) => (log ? Math.log10(Math.max(y, low)) : y);
    const fy = (y) => PAD.top + plotH - ((ly(y) - ly(low)) / (ly(high) - ly(low))) * plotH;

    const muted = css("--muted");
    ctx.font = "11px system-ui, sans-serif";
    ctx.lineWidth = 1;
    ctx.strokeStyle = css("--grid");
    ctx.fillStyle = muted;
    // y grid and labels
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const yTicks = log
      ? Array.from({ length: Math.round(Math.log10(high / low)) + 1 }, (_, i) => low * 10 ** i)
      : linearTicks(low, high, 4);
    const every = Math.max(1, Math.ceil(yTicks.length / 6));
    yTicks.forEach((t, i) => {
      if (i % every) return;
      const y = fy(t);
      ctx.beginPath();
      ctx.moveTo(PAD.left, y);
      ctx.lineTo(PAD.left + plotW, y);
      ctx.stroke();
      ctx.fillText(percent ? `${Math.round(t * 100)} %` : label(t, log), PAD.left - 6, y);
    });
    // x grid and labels
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of linearTicks(0, xHigh, Math.max(2, Math.floor(plotW / 80)))) {
      const x = fx(t);
      ctx.beginPath();
      ctx.moveTo(x, PAD.top);
      ctx.lineTo(x, PAD.top + plotH);
      ctx.stroke();
      ctx.fillText(label(t, false), x, PAD.top + plotH + 4);
    }
    if (xLabel) {
      ctx.textAlign = "right";
      ctx.fillText(xLabel, PAD.left + plotW, PAD.top + plotH + 16);
    }
    ctx.strokeStyle = css("--line");
    ctx.strokeRect(PAD.left, PAD.top, plotW, plotH);

    // the series, clipped to the plot
    ctx.save();
    ctx.beginPath();
    ctx.rect(PAD.left, PAD.top - 2, plotW, plotH + 4);
    ctx.clip();
    for (const s of this.series) {
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      ctx.lineWidth = s.width || 2;
      ctx.setLineDash(s.dash || []);
      ctx.lineJoin = "round";
      if (s.dots) {
        for (const [x, y] of s.points) {
          if (y === null || !Number.isFinite(y)) continue;
          ctx.beginPath();
          ctx.arc(fx(x), fy(y), 2.5, 0, 2 * Math.PI);
          ctx.fill();
        }
        continue;
      }
      ctx.beginPath();
      let pen = false;
      for (const [x, y] of s.points) {
        if (y === null || !Number.isFinite(y)) {
          pen = false;
          continue;
        }
        if (pen) ctx.lineTo(fx(x), fy(y));
        else ctx.moveTo(fx(x), fy(y));
        pen = true;
      }
      ctx.stroke();
      if (s.points.length === 1 && s.points[0][1] !== null) {
        ctx.beginPath();
        ctx.arc(fx(s.points[0][0]), fy(s.points[0][1]), 2.5, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
    ctx.restore();
    ctx.setLineDash([]);
  }
}
