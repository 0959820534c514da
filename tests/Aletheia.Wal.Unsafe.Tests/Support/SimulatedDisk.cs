using System.IO.Enumeration;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Tests.Support;

/// <summary>The kinds of storage operation a <see cref="SimulatedDisk"/> fault can hit.</summary>
[Flags]
public enum DiskOperation
{
    None = 0,
    Write = 1,
    Sync = 2,
    Create = 4,
    Move = 8,
    Delete = 16,
    SyncDirectory = 32,
    All = Write | Sync | Create | Move | Delete | SyncDirectory,
}

/// <summary>What a <see cref="SimulatedDisk"/> fault does to the operation it hits.</summary>
public enum DiskFault
{
    /// <summary>The power goes: the operation is interrupted, and from then on every operation fails.</summary>
    PowerLoss,

    /// <summary>The operation fails with EIO; the disk goes on working.</summary>
    IoError,

    /// <summary>The operation fails with ENOSPC; the disk goes on working.</summary>
    DiskFull,
}

/// <summary>How much of a write interrupted by a fault reaches the disk.</summary>
public enum TornWrite
{
    /// <summary>None of it.</summary>
    Dropped,

    /// <summary>A random prefix, cut at any byte.</summary>
    BytePrefix,

    /// <summary>A random prefix of whole 512-byte sectors.</summary>
    SectorPrefix,

    /// <summary>A random subset of its 512-byte sectors: the device persisted them out of order.</summary>
    SectorsOutOfOrder,

    /// <summary>All of it: the write reached the disk, and the call failed all the same.</summary>
    Complete,
}

/// <summary>
/// An in-memory file system behind the log's storage seam that knows which bytes would survive a power loss
/// (RocksDB's FaultInjectionTestFS, FASTER's flaky device): a write-through write is durable once it returns, any other
/// write once its file is synced; a creation, rename or deletion once the directory is synced. A directory sync makes
/// every name change durable, a failed one none. Name changes not yet synced are lost at a power loss, or, with
/// <see cref="NamesOutOfOrder"/> or <see cref="PersistPendingName"/>, any subset of them survives, as a file system that
/// commits directory entries in any order may leave (each rename whole: old name or new).
/// </summary>
/// <remarks>
/// One fault can be planned: the <see cref="FaultAt"/>-th operation of the kinds in <see cref="FaultOn"/> fails with
/// <see cref="Fault"/>. An interrupted write persists the part <see cref="Tear"/> says (to the durable bytes when it is
/// write-through). The running process reads back all of a write failed with EIO (the page cache keeps it) and the
/// persisted part of one failed with ENOSPC. After
/// <see cref="PowerLoss"/>, or a fault of that kind, <see cref="DurableImage"/> holds exactly the files and bytes that
/// would be on disk, and every further operation throws.
/// </remarks>
internal sealed class SimulatedDisk : WalStorage
{
    public const int SectorSize = 512;

    private readonly object _gate = new();
    private readonly Random _random;
    private readonly Dictionary<string, Node> _names = new(StringComparer.Ordinal);   // what the running process sees
    private Dictionary<string, Node> _durableNames = new(StringComparer.Ordinal);    // what survives power loss
    private readonly List<(DiskOperation Operation, string Path, string? To, Node? Node)> _pendingNames = []; // since the last directory sync
    private Dictionary<string, byte[]>? _image;
    private long _counted;
    private bool _disarmed;
    private DiskFault _fault;
    private TornWrite _tear;

    public SimulatedDisk(int seed) => _random = new Random(seed);

    /// <summary>1-based index, among the operations of the kinds in <see cref="FaultOn"/>, of the one the fault hits; 0 for none.</summary>
    public long FaultAt { get; init; }

    public DiskOperation FaultOn { get; init; } = DiskOperation.All;

    /// <summary>
    /// When set, the fault hits the first operation (of the kinds in <see cref="FaultOn"/>) for which it returns true,
    /// instead of the <see cref="FaultAt"/>-th: a test that plans the fault by what is done, not by a count.
    /// </summary>
    public Func<DiskOperation, string, bool>? FaultWhen { get; init; }

    public DiskFault Fault { get => _fault; init => _fault = value; }

    public TornWrite Tear { get => _tear; init => _tear = value; }

    /// <summary>
    /// Plans another fault once the first has hit (a test of two faults in a row): the next operation for which
    /// <see cref="FaultWhen"/> returns true fails with <paramref name="fault"/>, its write torn as <paramref name="tear"/> says.
    /// </summary>
    public void Rearm(DiskFault fault, TornWrite tear)
    {
        lock (_gate)
        {
            _fault = fault;
            _tear = tear;
            FaultReport = null;
        }
    }

    /// <summary>At a power loss, each name change not yet made durable by a directory sync survives or not, at random.</summary>
    public bool NamesOutOfOrder { get; init; }

    /// <summary>
    /// At a power loss, whether the i-th name change (0-based) since the last directory sync survives: a test that
    /// walks every subset. Overrides <see cref="NamesOutOfOrder"/>.
    /// </summary>
    public Func<int, bool>? PersistPendingName { get; set; }

    /// <summary>Name changes (creations, renames, deletions) made since the last directory sync.</summary>
    public int PendingNameChanges
    {
        get
        {
            lock (_gate)
            {
                return _pendingNames.Count;
            }
        }
    }

    /// <summary>Runs before every mutating operation, outside the disk's lock (a test holds an operation back with it).</summary>
    public Action<DiskOperation, string>? BeforeOperation { get; set; }

    /// <summary>Set once the planned fault has hit: which operation, on which file, and what reached the disk.</summary>
    public string? FaultReport { get; private set; }

    /// <summary>The operation the fault hit, once it has.</summary>
    public DiskOperation FaultedOperation { get; private set; }

    /// <summary>The file (or directory) the fault hit, once it has.</summary>
    public string? FaultedPath { get; private set; }

    /// <summary>Operations of the counted kinds so far.</summary>
    public long Counted
    {
        get
        {
            lock (_gate)
            {
                return _counted;
            }
        }
    }

    /// <summary>The files and bytes that survive the power loss, by full path; null while the power is on.</summary>
    public IReadOnlyDictionary<string, byte[]>? DurableImage
    {
        get
        {
            lock (_gate)
            {
                return _image;
            }
        }
    }

    /// <summary>Cancels the planned fault if it has not hit yet: the operations from now on all succeed.</summary>
    public void Disarm()
    {
        lock (_gate)
        {
            _disarmed = true;
        }
    }

    /// <summary>Cuts the power now (if the fault has not already): the durable bytes are frozen and every later operation throws.</summary>
    public IReadOnlyDictionary<string, byte[]> PowerLoss()
    {
        lock (_gate)
        {
            return _image ??= TakeImage();
        }
    }

    /// <summary>Puts the files of a real directory on the disk, durable, names and bytes: a log to recover on the simulated disk.</summary>
    public void Load(string from, string directory)
    {
        lock (_gate)
        {
            foreach (string file in Directory.GetFiles(from))
            {
                byte[] bytes = File.ReadAllBytes(file);
                var node = new Node { Bytes = bytes.ToArray(), Length = bytes.Length, DurableBytes = bytes.ToArray(), DurableLength = bytes.Length };
                string path = Path.Combine(directory, Path.GetFileName(file));
                _names[path] = node;
                _durableNames[path] = node;
            }
        }
    }

    /// <summary>Writes the durable image into <paramref name="directory"/> as real files: what a machine would boot with.</summary>
    public void RestoreImageTo(string directory)
    {
        Directory.CreateDirectory(directory);
        foreach ((string path, byte[] bytes) in PowerLoss())
        {
            File.WriteAllBytes(Path.Combine(directory, Path.GetFileName(path)), bytes);
        }
    }

    public override WalFile OpenWrite(string path, bool writeThrough)
    {
        lock (_gate)
        {
            ThrowIfOff();
            return new SimulatedFile(this, path, Find(path), writeThrough);
        }
    }

    public override WalFile CreateNew(string path, bool writeThrough)
    {
        BeforeOperation?.Invoke(DiskOperation.Create, path);
        lock (_gate)
        {
            HitFault(DiskOperation.Create, path);
            if (_names.ContainsKey(path))
            {
                throw new IOException($"The file '{path}' already exists.");
            }

            var node = new Node();
            _names.Add(path, node);
            _pendingNames.Add((DiskOperation.Create, path, null, node));
            return new SimulatedFile(this, path, node, writeThrough);
        }
    }

    public override WalFile OpenRead(string path)
    {
        lock (_gate)
        {
            ThrowIfOff();
            return new SimulatedFile(this, path, Find(path), writeThrough: false);
        }
    }

    public override void Delete(string path)
    {
        BeforeOperation?.Invoke(DiskOperation.Delete, path);
        lock (_gate)
        {
            HitFault(DiskOperation.Delete, path);
            _names.Remove(path);
            _pendingNames.Add((DiskOperation.Delete, path, null, null));
        }
    }

    public override void Move(string from, string to)
    {
        BeforeOperation?.Invoke(DiskOperation.Move, from);
        lock (_gate)
        {
            HitFault(DiskOperation.Move, from);
            Node node = Find(from);
            if (_names.ContainsKey(to))
            {
                throw new IOException($"The file '{to}' already exists.");
            }

            _names.Remove(from);
            _names.Add(to, node);
            _pendingNames.Add((DiskOperation.Move, from, to, node));
        }
    }

    public override void SyncDirectory(string directory)
    {
        BeforeOperation?.Invoke(DiskOperation.SyncDirectory, directory);
        lock (_gate)
        {
            HitFault(DiskOperation.SyncDirectory, directory);
            _durableNames = new Dictionary<string, Node>(_names, StringComparer.Ordinal);
            _pendingNames.Clear();
        }
    }

    public override string[] ListFiles(string directory, string searchPattern)
    {
        lock (_gate)
        {
            ThrowIfOff();
            return _names.Keys
                .Where(path => string.Equals(Path.GetDirectoryName(path), directory, StringComparison.Ordinal)
                    && FileSystemName.MatchesSimpleExpression(searchPattern, Path.GetFileName(path)))
                .Select(path => Path.GetFileName(path))
                .ToArray();
        }
    }

    /// <summary>Every segment write's overlap and the last LSN of the batches whose writes returned.</summary>
    public WriteTracker Tracker { get; } = new();

    private void Write(SimulatedFile file, ReadOnlySpan<byte> data, long offset)
    {
        bool segment = file.Path.EndsWith(SegmentNames.Extension, StringComparison.Ordinal);
        if (segment)
        {
            Tracker.Enter(file.Path);
        }

        try
        {
            WriteTracked(file, data, offset);
            if (segment)
            {
                Tracker.Returned(data, offset);
            }
        }
        finally
        {
            if (segment)
            {
                Tracker.Exit(file.Path);
            }
        }
    }

    private void WriteTracked(SimulatedFile file, ReadOnlySpan<byte> data, long offset)
    {
        BeforeOperation?.Invoke(DiskOperation.Write, file.Path);
        lock (_gate)
        {
            if (!IsFaultHere(DiskOperation.Write, file.Path))
            {
                ThrowIfOff();
                Node.Put(ref file.Node.Bytes, ref file.Node.Length, data, offset);
                if (file.WriteThrough)
                {
                    Node.Put(ref file.Node.DurableBytes, ref file.Node.DurableLength, data, offset);
                }

                return;
            }

            // The interrupted write: the torn part reaches the durable bytes (write-through). What the process reads back:
            // after EIO all of it (Linux keeps the pages of a failed write in the page cache, though the disk lacks them);
            // after ENOSPC the torn part (a short write); after a power loss nothing matters.
            string persisted = Persist(file, data, offset, live: Fault == DiskFault.DiskFull);
            if (Fault == DiskFault.IoError)
            {
                Node.Put(ref file.Node.Bytes, ref file.Node.Length, data, offset);
            }
            Fail(DiskOperation.Write, file.Path, $"{data.Length} B at offset {offset}, {persisted}");
        }
    }

    private void Sync(SimulatedFile file)
    {
        BeforeOperation?.Invoke(DiskOperation.Sync, file.Path);
        lock (_gate)
        {
            HitFault(DiskOperation.Sync, file.Path);
            Node node = file.Node;
            node.DurableBytes = node.Bytes.AsSpan(0, (int)node.Length).ToArray();
            node.DurableLength = node.Length;
        }
    }

    private string Persist(SimulatedFile file, ReadOnlySpan<byte> data, long offset, bool live)
    {
        var kept = new List<(int Start, int Length)>();
        switch (Tear)
        {
            case TornWrite.Dropped:
                break;
            case TornWrite.Complete:
                kept.Add((0, data.Length));
                break;
            case TornWrite.BytePrefix:
                kept.Add((0, _random.Next(data.Length)));
                break;
            case TornWrite.SectorPrefix:
            case TornWrite.SectorsOutOfOrder:
                // Sectors are aligned to the device, not to the write: the first and last may be partial pieces.
                int start = 0;
                bool prefixOpen = true;
                int prefixSectors = _random.Next(1 + (data.Length / SectorSize));
                for (int sector = 0; start < data.Length; sector++)
                {
                    int end = (int)Math.Min(data.Length, ((offset + start) / SectorSize + 1) * SectorSize - offset);
                    bool keep = Tear == TornWrite.SectorPrefix ? prefixOpen && sector < prefixSectors : _random.Next(2) == 0;
                    prefixOpen &= keep;
                    if (keep)
                    {
                        kept.Add((start, end - start));
                    }

                    start = end;
                }

                break;
        }

        foreach ((int start, int length) in kept)
        {
            if (file.WriteThrough)
            {
                Node.Put(ref file.Node.DurableBytes, ref file.Node.DurableLength, data.Slice(start, length), offset + start);
            }

            if (live)
            {
                Node.Put(ref file.Node.Bytes, ref file.Node.Length, data.Slice(start, length), offset + start);
            }
        }

        return kept.Count == 0 ? "nothing persisted" : "persisted " + string.Join(", ", kept.Select(k => $"[{k.Start}, {k.Start + k.Length})"));
    }

    /// <summary>Counts the operation and, if the fault is planned for it, fails it (the operation then does nothing).</summary>
    private void HitFault(DiskOperation operation, string path)
    {
        if (IsFaultHere(operation, path))
        {
            Fail(operation, path, "not done");
        }

        ThrowIfOff();
    }

    private bool IsFaultHere(DiskOperation operation, string path)
    {
        ThrowIfOff();
        if ((FaultOn & operation) == 0)
        {
            return false;
        }

        ++_counted;
        return !_disarmed && (FaultWhen is { } when ? FaultReport is null && when(operation, path) : _counted == FaultAt);
    }

    private void Fail(DiskOperation operation, string path, string what)
    {
        FaultedOperation = operation;
        FaultedPath = path;
        FaultReport = $"{Fault} at {operation} #{FaultAt} on '{Path.GetFileName(path)}': {what}";
        switch (Fault)
        {
            case DiskFault.PowerLoss:
                _image = TakeImage();
                throw new IOException($"Simulated power loss ({FaultReport}).");
            case DiskFault.DiskFull:
                throw new IOException($"No space left on device : '{path}' (simulated).", unchecked((int)0x80070070));
            default:
                throw new IOException($"Input/output error : '{path}' (simulated EIO).", 5);
        }
    }

    private Dictionary<string, byte[]> TakeImage()
    {
        var names = new Dictionary<string, Node>(_durableNames, StringComparer.Ordinal);
        if (NamesOutOfOrder || PersistPendingName is not null)
        {
            // Each pending change survives or not, independently; one that survives applies to the names that did (a
            // rename of a file whose creation was lost has nothing to rename).
            for (int i = 0; i < _pendingNames.Count; i++)
            {
                (DiskOperation operation, string path, string? to, Node? node) = _pendingNames[i];
                if (!(PersistPendingName?.Invoke(i) ?? _random.Next(2) == 0))
                {
                    continue;
                }

                switch (operation)
                {
                    case DiskOperation.Create:
                        names.TryAdd(path, node!);
                        break;
                    case DiskOperation.Delete:
                        names.Remove(path);
                        break;
                    case DiskOperation.Move when names.TryGetValue(path, out Node? moved) && moved == node && !names.ContainsKey(to!):
                        names.Remove(path);
                        names.Add(to!, node);
                        break;
                }
            }
        }

        return names.ToDictionary(entry => entry.Key, entry => entry.Value.DurableBytes.AsSpan(0, (int)entry.Value.DurableLength).ToArray(), StringComparer.Ordinal);
    }

    private void ThrowIfOff()
    {
        if (_image is not null)
        {
            throw new IOException("The simulated disk has lost power.");
        }
    }

    private Node Find(string path) =>
        _names.TryGetValue(path, out Node? node) ? node : throw new FileNotFoundException($"Could not find file '{path}'.", path);

    /// <summary>One file: the bytes the running process reads, and the bytes that would survive power loss.</summary>
    private sealed class Node
    {
        public byte[] Bytes = [];
        public long Length;
        public byte[] DurableBytes = [];
        public long DurableLength;

        public static void Put(ref byte[] bytes, ref long length, ReadOnlySpan<byte> data, long offset)
        {
            long end = offset + data.Length;
            if (end > bytes.Length)
            {
                Array.Resize(ref bytes, (int)Math.Max(end, Math.Min(2L * bytes.Length, int.MaxValue)));
            }

            data.CopyTo(bytes.AsSpan((int)offset));
            length = Math.Max(length, end);
        }
    }

    private sealed class SimulatedFile(SimulatedDisk disk, string path, Node node, bool writeThrough) : WalFile
    {
        public Node Node { get; } = node;

        public bool WriteThrough { get; } = writeThrough;

        public override string Path { get; } = path;

        public override long Length
        {
            get
            {
                lock (disk._gate)
                {
                    disk.ThrowIfOff();
                    return Node.Length;
                }
            }
        }

        public override void Write(ReadOnlySpan<byte> data, long offset) => disk.Write(this, data, offset);

        public override int Read(Span<byte> destination, long offset)
        {
            lock (disk._gate)
            {
                disk.ThrowIfOff();
                int count = (int)Math.Clamp(Node.Length - offset, 0, destination.Length);
                if (count > 0)
                {
                    Node.Bytes.AsSpan((int)offset, count).CopyTo(destination);
                }

                return count;
            }
        }

        public override void Sync() => disk.Sync(this);

        public override void Dispose()
        {
        }
    }
}
