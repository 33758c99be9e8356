//! Dense layers for inference, `y = act(x W + b)` over row-major `(rows, in)`
//! inputs, with either
//! - f32 weights, multiplied by the `gemm` crate (what candle uses underneath), or
//! - int8 weights with one scale per output channel, multiplied by our own
//!   kernel: each input row is quantised to int8 on the fly (one scale per
//!   row), products accumulate exactly in i32, and the result is rescaled.
//!   On CPUs with AVX-512 VNNI the kernel is `vpdpbusd` over a packed weight
//!   layout (64 multiply-adds per instruction, no horizontal sums); elsewhere
//!   a portable loop computes the same integers.

use rayon::prelude::*;

/// How a model's weight matrices are stored for inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// 32-bit floats, as trained.
    F32,
    /// 8-bit integers with per-output-channel scales (4× smaller, faster on CPUs).
    #[default]
    Int8,
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "f32" => Ok(Self::F32),
            "int8" => Ok(Self::Int8),
            other => Err(format!(
                "unknown precision {other:?} (expected f32 or int8)"
            )),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::F32 => "f32",
            Self::Int8 => "int8",
        })
    }
}

/// Multiply-adds below which a product runs on the calling thread: splitting
/// smaller ones across the pool costs more than it saves.
const PARALLEL_MACS: usize = 1 << 19;

/// Where an operation may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// On the calling thread only (the caller parallelises at a coarser grain).
    One,
    /// Split across the rayon pool when it is large enough to pay off.
    Pool,
}

impl Threads {
    /// Whether work of `size` (multiply-adds or similar) should be split.
    pub(crate) fn split(self, size: usize) -> bool {
        self == Threads::Pool && size >= PARALLEL_MACS
    }
}

/// A weight matrix `W` of shape `(d_in, d_out)`, given element by element.
pub(crate) struct WeightSource<'a> {
    pub d_in: usize,
    pub d_out: usize,
    /// Row-major data.
    pub data: &'a [f32],
    /// `true` when `data` is `(d_out, d_in)` (i.e. `W` transposed), as for a
    /// tied output projection read from the embedding table.
    pub transposed: bool,
}

impl WeightSource<'_> {
    fn at(&self, k: usize, n: usize) -> f32 {
        if self.transposed {
            self.data[n * self.d_in + k]
        } else {
            self.data[k * self.d_out + n]
        }
    }
}

/// A dense layer ready for inference.
pub struct Dense {
    d_in: usize,
    d_out: usize,
    bias: Vec<f32>,
    weights: Weights,
}

enum Weights {
    /// `(d_in, d_out)` row-major.
    F32(Vec<f32>),
    Int8(QMatrix),
}

impl std::fmt::Debug for Dense {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.weights {
            Weights::F32(_) => "f32",
            Weights::Int8(_) => "int8",
        };
        write!(f, "Dense({}x{}, {kind})", self.d_in, self.d_out)
    }
}

impl Dense {
    /// Copies (and, for int8, quantises) `w`; `bias` defaults to zeros.
    pub(crate) fn new(w: &WeightSource, bias: Option<Vec<f32>>, precision: Precision) -> Self {
        let bias = bias.unwrap_or_else(|| vec![0.0; w.d_out]);
        assert_eq!(bias.len(), w.d_out, "bias width");
        let weights = match precision {
            Precision::F32 => {
                let mut m = Vec::with_capacity(w.d_in * w.d_out);
                for k in 0..w.d_in {
                    for n in 0..w.d_out {
                        m.push(w.at(k, n));
                    }
                }
                Weights::F32(m)
            }
            Precision::Int8 => Weights::Int8(QMatrix::quantize(w)),
        };
        Self {
            d_in: w.d_in,
            d_out: w.d_out,
            bias,
            weights,
        }
    }

    /// Output width.
    pub fn d_out(&self) -> usize {
        self.d_out
    }

    /// Bytes the weights take.
    pub fn weight_bytes(&self) -> usize {
        match &self.weights {
            Weights::F32(w) => w.len() * 4,
            Weights::Int8(q) => q.packed.len() + q.scale.len() * 8,
        }
    }

    /// `act(x W + b)` for `rows` rows of `x` (`rows * d_in` values); ReLU when `relu`.
    pub fn forward(&self, x: &[f32], rows: usize, relu: bool, threads: Threads) -> Vec<f32> {
        assert_eq!(x.len(), rows * self.d_in, "input width");
        let mut y = vec![0f32; rows * self.d_out];
        if rows == 0 {
            return y;
        }
        match &self.weights {
            Weights::F32(w) => {
                for row in y.chunks_mut(self.d_out) {
                    row.copy_from_slice(&self.bias);
                }
                let split = threads.split(rows * self.d_in * self.d_out);
                gemm_f32(x, w, &mut y, rows, self.d_in, self.d_out, split);
                if relu {
                    y.iter_mut().for_each(|v| *v = v.max(0.0));
                }
            }
            Weights::Int8(q) => q.forward(x, rows, &self.bias, relu, &mut y, threads),
        }
        y
    }
}

/// `y += x W` with `x (m, k)`, `W (k, n)`, `y (m, n)`, all row-major.
fn gemm_f32(x: &[f32], w: &[f32], y: &mut [f32], m: usize, k: usize, n: usize, split: bool) {
    let par = if split {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    };
    let (k_, n_) = (k as isize, n as isize);
    // SAFETY: the pointers cover `m * k`, `k * n` and `m * n` elements with
    // the row-major strides given (checked by the callers' length asserts),
    // and `y` does not alias `x` or `w`.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            y.as_mut_ptr(),
            1,
            n_,
            true,
            x.as_ptr(),
            1,
            k_,
            w.as_ptr(),
            1,
            n_,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

// ---------------------------------------------------------------- int8

/// Output channels per packed block (one 512-bit register of i32 lanes).
const LANES: usize = 16;
/// Input values per i32 lane (what one `vpdpbusd` lane sums).
const GROUP: usize = 4;
/// Bytes of one packed block row: `LANES` outputs × `GROUP` inputs.
const BLOCK: usize = LANES * GROUP;

/// An int8 weight matrix. Packed so that for output block `nb` and input
/// group `g`, the 64 bytes at `(nb * groups + g) * 64` are, for each of the
/// block's 16 outputs in turn, its weights for inputs `4g .. 4g + 4`
/// (zero-padded past `d_in` and `d_out`).
pub(crate) struct QMatrix {
    d_in: usize,
    d_out: usize,
    groups: usize,
    blocks: usize,
    packed: Vec<i8>,
    /// Dequantisation scale of each (padded) output.
    scale: Vec<f32>,
    /// `128 * sum_k w[k][n]`: what the unsigned shift of the inputs adds.
    shift: Vec<i32>,
}

impl QMatrix {
    fn quantize(w: &WeightSource) -> Self {
        let groups = w.d_in.div_ceil(GROUP);
        let blocks = w.d_out.div_ceil(LANES);
        let mut packed = vec![0i8; blocks * groups * BLOCK];
        let mut scale = vec![0f32; blocks * LANES];
        let mut shift = vec![0i32; blocks * LANES];
        for n in 0..w.d_out {
            let amax = (0..w.d_in).map(|k| w.at(k, n).abs()).fold(0f32, f32::max);
            let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
            scale[n] = s;
            let (nb, lane) = (n / LANES, n % LANES);
            let mut sum = 0i32;
            for k in 0..w.d_in {
                let q = (w.at(k, n) / s).round().clamp(-127.0, 127.0) as i8;
                sum += i32::from(q);
                let (g, r) = (k / GROUP, k % GROUP);
                packed[(nb * groups + g) * BLOCK + lane * GROUP + r] = q;
            }
            shift[n] = 128 * sum;
        }
        Self {
            d_in: w.d_in,
            d_out: w.d_out,
            groups,
            blocks,
            packed,
            scale,
            shift,
        }
    }

    /// Row width of quantised inputs (`d_in` padded to whole groups).
    fn x_width(&self) -> usize {
        self.groups * GROUP
    }

    fn forward(
        &self,
        x: &[f32],
        rows: usize,
        bias: &[f32],
        relu: bool,
        y: &mut [f32],
        threads: Threads,
    ) {
        let (xq, xs) = quantize_rows(x, rows, self.d_in, self.x_width());
        // Accumulators block-major: `acc[nb][row][lane]`, so that a range of
        // output blocks is one contiguous chunk.
        let mut acc = vec![0i32; self.blocks * rows * LANES];
        if threads.split(rows * self.d_in * self.d_out) {
            let chunk_blocks = self
                .blocks
                .div_ceil(rayon::current_num_threads() * 2)
                .max(1);
            acc.par_chunks_mut(chunk_blocks * rows * LANES)
                .enumerate()
                .for_each(|(c, out)| {
                    let lo = c * chunk_blocks;
                    let hi = (lo + chunk_blocks).min(self.blocks);
                    self.accumulate(&xq, rows, lo, hi, out);
                });
        } else {
            self.accumulate(&xq, rows, 0, self.blocks, &mut acc);
        }
        let d_out = self.d_out;
        for nb in 0..self.blocks {
            let n0 = nb * LANES;
            let width = LANES.min(d_out - n0);
            let (scale, shift, b) = (
                &self.scale[n0..n0 + width],
                &self.shift[n0..n0 + width],
                &bias[n0..n0 + width],
            );
            for r in 0..rows {
                let a = &acc[(nb * rows + r) * LANES..][..width];
                let yr = &mut y[r * d_out + n0..][..width];
                let sx = xs[r];
                for i in 0..width {
                    let t = (a[i] - shift[i]) as f32 * (sx * scale[i]) + b[i];
                    yr[i] = if relu { t.max(0.0) } else { t };
                }
            }
        }
    }

    /// Integer products of all `rows` with output blocks `lo..hi` into `out`
    /// (`(hi - lo) * rows * LANES`, block-major).
    fn accumulate(&self, xq: &[u8], rows: usize, lo: usize, hi: usize, out: &mut [i32]) {
        #[cfg(target_arch = "x86_64")]
        if vnni::available() {
            // SAFETY: the CPU has the features the kernel is compiled for, and
            // the slices have the sizes `accumulate_vnni` documents.
            #[allow(unsafe_code)]
            unsafe {
                vnni::accumulate(self, xq, rows, lo, hi, out)
            };
            return;
        }
        self.accumulate_portable(xq, rows, lo, hi, out);
    }

    /// The same integers as the VNNI kernel, in plain Rust.
    fn accumulate_portable(&self, xq: &[u8], rows: usize, lo: usize, hi: usize, out: &mut [i32]) {
        let xw = self.x_width();
        for nb in lo..hi {
            let wb = &self.packed[nb * self.groups * BLOCK..][..self.groups * BLOCK];
            for r in 0..rows {
                let xr = &xq[r * xw..][..xw];
                let o = &mut out[((nb - lo) * rows + r) * LANES..][..LANES];
                for (lane, acc) in o.iter_mut().enumerate() {
                    let mut s = 0i32;
                    for g in 0..self.groups {
                        for i in 0..GROUP {
                            s += i32::from(xr[g * GROUP + i])
                                * i32::from(wb[g * BLOCK + lane * GROUP + i]);
                        }
                    }
                    *acc = s;
                }
            }
        }
    }
}

/// Rounds to the nearest integer (ties to even) for `|v| <= 2^22`, without a
/// libm call, so the quantisation loop vectorises.
#[inline(always)]
fn round_even(v: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    (v + MAGIC) - MAGIC
}

/// Quantises each row of `x` (`rows × d`) to `u8` with a per-row scale:
/// `x ≈ (q - 128) * scale`. Rows are padded to `width` with 128 (zero).
fn quantize_rows(x: &[f32], rows: usize, d: usize, width: usize) -> (Vec<u8>, Vec<f32>) {
    let mut q = vec![128u8; rows * width];
    let mut scales = vec![0f32; rows];
    for r in 0..rows {
        let xr = &x[r * d..][..d];
        let amax = xr.iter().fold(0f32, |m, v| m.max(v.abs()));
        let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
        let inv = 1.0 / s;
        for (o, v) in q[r * width..][..d].iter_mut().zip(xr) {
            *o = (round_even(v * inv) as i32 + 128) as u8;
        }
        scales[r] = s;
    }
    (q, scales)
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod vnni {
    //! `vpdpbusd` kernel: tiles of up to 4 input rows × 4 output blocks (64
    //! outputs) keep 16 accumulators in registers; each step loads 4 weight
    //! registers and broadcasts 4 input bytes per row.

    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    use super::{QMatrix, BLOCK, GROUP, LANES};

    pub(super) fn available() -> bool {
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| {
            std::env::var_os("RELAIS_NO_VNNI").is_none()
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vnni")
        })
    }

    /// One tile: `MR` rows from `x` (row stride `xw` bytes) times `NR`
    /// consecutive blocks from `w` (block stride `groups * 64` bytes), stored
    /// to `out` with row stride `LANES` and block stride `rows * LANES`.
    #[inline(always)]
    unsafe fn tile<const MR: usize, const NR: usize>(
        x: *const u8,
        xw: usize,
        w: *const i8,
        groups: usize,
        out: *mut i32,
        rows: usize,
    ) {
        unsafe {
            let mut acc = [[_mm512_setzero_si512(); NR]; MR];
            for g in 0..groups {
                let mut wv = [_mm512_setzero_si512(); NR];
                for (j, v) in wv.iter_mut().enumerate() {
                    *v = _mm512_loadu_si512(w.add((j * groups + g) * BLOCK).cast());
                }
                for (i, row) in acc.iter_mut().enumerate() {
                    let a =
                        _mm512_set1_epi32(x.add(i * xw + g * GROUP).cast::<i32>().read_unaligned());
                    for (j, c) in row.iter_mut().enumerate() {
                        *c = _mm512_dpbusd_epi32(*c, a, wv[j]);
                    }
                }
            }
            for (i, row) in acc.iter().enumerate() {
                for (j, c) in row.iter().enumerate() {
                    _mm512_storeu_si512(out.add((j * rows + i) * LANES).cast(), *c);
                }
            }
        }
    }

    /// # Safety
    /// Needs AVX-512 F/BW/VNNI; `xq` holds `rows` rows of `m.x_width()` bytes
    /// and `out` holds `(hi - lo) * rows * LANES` values.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn accumulate(
        m: &QMatrix,
        xq: &[u8],
        rows: usize,
        lo: usize,
        hi: usize,
        out: &mut [i32],
    ) {
        assert!(xq.len() >= rows * m.x_width());
        assert!(out.len() >= (hi - lo) * rows * LANES && hi <= m.blocks);
        let xw = m.x_width();
        let groups = m.groups;
        macro_rules! go {
            ($mr:literal, $nr:expr, $x:expr, $w:expr, $o:expr) => {
                match $nr {
                    4 => tile::<$mr, 4>($x, xw, $w, groups, $o, rows),
                    3 => tile::<$mr, 3>($x, xw, $w, groups, $o, rows),
                    2 => tile::<$mr, 2>($x, xw, $w, groups, $o, rows),
                    _ => tile::<$mr, 1>($x, xw, $w, groups, $o, rows),
                }
            };
        }
        unsafe {
            let mut nb = lo;
            while nb < hi {
                let nr = (hi - nb).min(4);
                let w = m.packed.as_ptr().add(nb * groups * BLOCK);
                let mut r = 0;
                while r < rows {
                    let mr = (rows - r).min(4);
                    let x = xq.as_ptr().add(r * xw);
                    let o = out.as_mut_ptr().add(((nb - lo) * rows + r) * LANES);
                    match mr {
                        4 => go!(4, nr, x, w, o),
                        3 => go!(3, nr, x, w, o),
                        2 => go!(2, nr, x, w, o),
                        _ => go!(1, nr, x, w, o),
                    }
                    r += mr;
                }
                nb += nr;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::batch::SplitMix::new(seed);
        (0..n).map(|_| rng.normal() as f32).collect()
    }

    fn reference(x: &[f32], w: &[f32], b: &[f32], rows: usize, k: usize, n: usize) -> Vec<f32> {
        let mut y = vec![0f32; rows * n];
        for r in 0..rows {
            for j in 0..n {
                y[r * n + j] = b[j] + (0..k).map(|i| x[r * k + i] * w[i * n + j]).sum::<f32>();
            }
        }
        y
    }

    #[test]
    fn f32_and_int8_layers_match_a_plain_product() {
        // Odd sizes exercise every padding and tile remainder.
        for &(rows, k, n) in &[(1, 8, 16), (3, 30, 21), (7, 64, 70), (33, 256, 131)] {
            let x = random(rows * k, 1);
            let w = random(k * n, 2);
            let b = random(n, 3);
            let want = reference(&x, &w, &b, rows, k, n);
            let src = WeightSource {
                d_in: k,
                d_out: n,
                data: &w,
                transposed: false,
            };
            let f = Dense::new(&src, Some(b.clone()), Precision::F32).forward(
                &x,
                rows,
                false,
                Threads::Pool,
            );
            let q = Dense::new(&src, Some(b.clone()), Precision::Int8).forward(
                &x,
                rows,
                false,
                Threads::Pool,
            );
            let scale = (k as f32).sqrt();
            for i in 0..want.len() {
                assert!(
                    (f[i] - want[i]).abs() < 1e-3 * scale,
                    "f32 {rows}x{k}x{n} @{i}"
                );
                // Two 8-bit roundings per product: a few percent of the spread.
                assert!(
                    (q[i] - want[i]).abs() < 0.05 * scale,
                    "int8 {rows}x{k}x{n} @{i}: {} vs {}",
                    q[i],
                    want[i]
                );
            }
        }
    }

    #[test]
    fn the_vnni_kernel_and_the_portable_loop_compute_the_same_integers() {
        let (rows, k, n) = (9, 100, 70);
        let w = random(k * n, 4);
        let q = QMatrix::quantize(&WeightSource {
            d_in: k,
            d_out: n,
            data: &w,
            transposed: false,
        });
        let (xq, _) = quantize_rows(&random(rows * k, 5), rows, k, q.x_width());
        let mut a = vec![0i32; q.blocks * rows * LANES];
        let mut b = a.clone();
        q.accumulate(&xq, rows, 0, q.blocks, &mut a);
        q.accumulate_portable(&xq, rows, 0, q.blocks, &mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn relu_and_a_transposed_source() {
        let (k, n) = (12, 5);
        let wt = random(n * k, 6); // (n, k)
        let x = random(2 * k, 7);
        let src = WeightSource {
            d_in: k,
            d_out: n,
            data: &wt,
            transposed: true,
        };
        let y = Dense::new(&src, None, Precision::F32).forward(&x, 2, true, Threads::One);
        for r in 0..2 {
            for j in 0..n {
                let want = (0..k).map(|i| x[r * k + i] * wt[j * k + i]).sum::<f32>();
                assert!((y[r * n + j] - want.max(0.0)).abs() < 1e-4);
            }
        }
    }
}
