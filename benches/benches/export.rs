//! Export parsing throughput (MB/s) for both formats, from a folder on disk.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use spotifyart_benches::{write_account, write_extended};

fn export_parsing(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let ext = dir.path().join("extended");
    let acc = dir.path().join("account");
    std::fs::create_dir_all(&ext).unwrap();
    std::fs::create_dir_all(&acc).unwrap();
    // ~30 MB each: the size of two or three real extended files.
    let ext_bytes = write_extended(&ext.join("Streaming_History_Audio_2023.json"), 40_000);
    let acc_bytes = write_account(&acc.join("StreamingHistory_music_0.json"), 250_000);

    let mut g = c.benchmark_group("export_parse");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(ext_bytes));
    g.bench_function("extended_history", |b| {
        b.iter(|| std::hint::black_box(spotifyart_core::read_export(&ext).unwrap()))
    });
    g.throughput(Throughput::Bytes(acc_bytes));
    g.bench_function("account_data", |b| {
        b.iter(|| std::hint::black_box(spotifyart_core::read_export(&acc).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, export_parsing);
criterion_main!(benches);
