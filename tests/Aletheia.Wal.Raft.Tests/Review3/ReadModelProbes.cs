using System.Text;
using Aletheia.Wal.Raft.Tests.Support;
using Aletheia.Wal.Tests.Support;
using DotNext.Net.Cluster.Consensus.Raft;
using Xunit;

namespace Aletheia.Wal.Raft.Tests.Review3;

/// <summary>
/// Third review, priority 1: reads (from the entries kept in memory, or from the log) against a model of the log, under
/// random leader appends (not yet durable when read), follower appends that replace a suffix, commits, compactions,
/// snapshot installations and reopens. Every read compares term, payload and snapshot index with the model.
/// </summary>
public sealed class ReadModelProbes : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private AletheiaPersistentState Open() =>
        AletheiaPersistentState.Open(
            new AletheiaRaftOptions
            {
                Directory = _dir.Path,
                DisposeTimeout = TimeSpan.FromSeconds(10),
                LogOptions = dir => new WalOptions { Directory = dir, SegmentSizeBytes = 1 << 16, MaxEntryBytes = 4096, StripeCapacityBytes = 1 << 16 },
            },
            new RecordingStateMachine());

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Reads_match_a_model_of_the_log_under_suffix_replacement_compaction_installation_and_reopen(int seed)
    {
        var random = new Random(seed);
        var model = new List<(long Term, string Text)> { (0, "") }; // index 0 unused
        long snapshotIndex = 0, snapshotTerm = 0, commit = 0, term = 1;
        AletheiaPersistentState state = Open();
        try
        {
            for (int step = 0; step < 300; step++)
            {
                IPersistentState raft = state.AsPersistentState;
                long last = model.Count - 1;
                int op = random.Next(100);
                string what;
                if (op < 40)
                {
                    // A leader's appends: read back at once, before they are durable.
                    int n = random.Next(1, 20);
                    for (int i = 0; i < n; i++)
                    {
                        string text = Text(random, step, i);
                        long index = await raft.AppendAsync(Entries.Of(term, text));
                        Assert.Equal(model.Count, index);
                        model.Add((term, text));
                    }

                    what = $"leader appended {n} in term {term}";
                }
                else if (op < 70)
                {
                    // A follower's append at an index above the commit index, in a new term: replaces the suffix.
                    term += random.Next(0, 2);
                    long start = random.NextInt64(Math.Max(commit, snapshotIndex) + 1, last + 2);
                    int n = random.Next(1, 30);
                    var entries = new BinaryLogEntry[n];
                    for (int i = 0; i < n; i++)
                    {
                        long index = start + i;
                        string text = Text(random, step, i);
                        entries[i] = Entries.Of(term, text);
                    }

                    await raft.AppendAsync(Entries.Producer(entries), start).AsTask().WaitAsync(Wait);
                    for (int i = 0; i < n; i++)
                    {
                        long index = start + i;
                        if (index < model.Count)
                        {
                            if (model[(int)index].Term == term)
                            {
                                continue; // kept as it is
                            }

                            model.RemoveRange((int)index, model.Count - (int)index);
                        }

                        model.Add((term, entries[i].Content.ToArray() is { } b ? Encoding.UTF8.GetString(b) : ""));
                    }

                    what = $"follower appended {n} at {start} in term {term}";
                }
                else if (op < 82)
                {
                    if (last > commit)
                    {
                        long target = random.NextInt64(commit + 1, last + 1);
                        await raft.CommitAsync(target).AsTask().WaitAsync(Wait);
                        commit = target;
                    }

                    what = $"committed to {commit}";
                }
                else if (op < 88)
                {
                    await raft.WaitForApplyAsync(commit).AsTask().WaitAsync(Wait);
                    long taken = await state.CompactAsync().AsTask().WaitAsync(Wait);
                    if (commit > snapshotIndex)
                    {
                        Assert.Equal(commit, taken);
                        snapshotIndex = commit;
                        snapshotTerm = model[(int)commit].Term;
                    }

                    what = $"compacted at {taken}";
                }
                else if (op < 94)
                {
                    // A snapshot from the leader, above the commit index: at, below or past the end of the log.
                    long index = random.NextInt64(commit + 1, last + 20);
                    long snapTerm = index <= last && random.Next(2) == 0 ? model[(int)index].Term : term + 1;
                    term = Math.Max(term, snapTerm);
                    await raft.AppendAsync(Entries.Snapshot(snapTerm, Entries.SnapshotOf("s" + index)), index).AsTask().WaitAsync(Wait);
                    if (last > index && model[(int)index].Term != snapTerm)
                    {
                        model.RemoveRange((int)index + 1, model.Count - (int)index - 1);
                    }

                    while (model.Count <= index)
                    {
                        model.Add((snapTerm, ""));
                    }

                    snapshotIndex = index;
                    snapshotTerm = snapTerm;
                    commit = index;
                    what = $"installed a snapshot at {index} term {snapTerm}";
                }
                else
                {
                    await state.DisposeAsync();
                    state = Open();
                    what = "reopened";
                }

                raft = state.AsPersistentState;
                last = model.Count - 1;
                Assert.True(last == raft.LastEntryIndex, $"step {step} ({what}): LastEntryIndex {raft.LastEntryIndex}, model {last}");
                Assert.True(commit == raft.LastCommittedEntryIndex, $"step {step} ({what}): commit {raft.LastCommittedEntryIndex}, model {commit}");
                Assert.True(snapshotIndex == state.SnapshotIndex, $"step {step} ({what}): snapshot {state.SnapshotIndex}, model {snapshotIndex}");
                if (last == 0)
                {
                    continue;
                }

                // Two reads: a recent range (served from memory) and one from the start (the log, or the snapshot).
                foreach ((long from, long to) in new[] { (Math.Max(1, last - random.Next(0, 40)), last), (1L, random.NextInt64(1, last + 1)) })
                {
                    Entries.ReadResult read = await Entries.ReadAsync(raft, from, to).AsTask().WaitAsync(Wait);
                    long next = from;
                    int k = 0;
                    if (from <= snapshotIndex)
                    {
                        Assert.True(read.SnapshotIndex == snapshotIndex, $"step {step} ({what}): read {from}..{to} snapshot index {read.SnapshotIndex}, model {snapshotIndex}");
                        Assert.True(read.Entries[0].IsSnapshot && read.Entries[0].Term == snapshotTerm, $"step {step} ({what}): first entry of {from}..{to} is not the snapshot of term {snapshotTerm}");
                        next = snapshotIndex + 1;
                        k = 1;
                    }
                    else
                    {
                        Assert.True(read.SnapshotIndex is null, $"step {step} ({what}): read {from}..{to} got snapshot index {read.SnapshotIndex}");
                    }

                    Assert.True(read.Entries.Count == k + Math.Max(0, to - next + 1), $"step {step} ({what}): read {from}..{to} returned {read.Entries.Count} entries, model {k + Math.Max(0, to - next + 1)}");
                    for (; next <= to; next++, k++)
                    {
                        (long t, string text) = model[(int)next];
                        Assert.True(read.Entries[k].Term == t && read.Entries[k].Text == text && !read.Entries[k].IsSnapshot,
                            $"step {step} ({what}): entry {next} read as term {read.Entries[k].Term} '{Short(read.Entries[k].Text)}', model term {t} '{Short(text)}'");
                    }
                }
            }
        }
        finally
        {
            await state.DisposeAsync();
        }
    }

    private static string Short(string s) => s.Length > 24 ? s[..24] + $"...({s.Length})" : s;

    // Mostly small payloads (kept in memory), some above RecentEntries.MaxPayloadBytes (2048: read from the log).
    private static string Text(Random random, int step, int i)
    {
        string head = $"s{step}e{i}r{random.Next(1000)}";
        return random.Next(8) == 0 ? head + new string('x', random.Next(2049, 3000)) : head;
    }
}
