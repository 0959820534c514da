using System.Xml.Linq;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Raft.Tests.Docs;

/// <summary>`dotnet pack` makes the Raft package (from the build the tests run on) with its metadata and dependencies.</summary>
public sealed class RaftPackageTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task The_package_has_its_id_description_readme_symbols_and_depends_on_the_log_DotNext_and_ObjectPool()
    {
        (int exitCode, string output) = await Repository.RunAsync(
            "dotnet", ["pack", Repository.File("src/Aletheia.Wal.Raft"), "-c", Repository.Configuration, "--no-build", "-o", _temp.Path]);
        Assert.True(exitCode == 0, $"dotnet pack src/Aletheia.Wal.Raft failed: {output}");

        string version = typeof(AletheiaPersistentState).Assembly.GetName().Version!.ToString(3);
        string nupkg = Path.Combine(_temp.Path, $"Aletheia.Wal.Raft.{version}.nupkg");
        XElement metadata = PackageFile.Metadata(nupkg);

        Assert.Equal("Aletheia.Wal.Raft", PackageFile.Value(metadata, "id"));
        Assert.Equal(version, PackageFile.Value(metadata, "version"));
        Assert.StartsWith("The Aletheia write-ahead log as the persistent state of DotNext's Raft", PackageFile.Value(metadata, "description"), StringComparison.Ordinal);
        Assert.Equal("MIT", PackageFile.Value(metadata, "license"));
        Assert.Equal("README.md", PackageFile.Value(metadata, "readme"));
        Assert.Contains("lib/net10.0/Aletheia.Wal.Raft.dll", PackageFile.Entries(nupkg));
        var dependencies = metadata.Descendants().Where(e => e.Name.LocalName == "dependency")
            .Select(e => (e.Attribute("id")!.Value, e.Attribute("version")!.Value)).Order().ToArray();
        // Microsoft.Extensions.ObjectPool: the pools of the per-command async methods' boxes (Threading/).
        Assert.Equal([("Aletheia.Wal.Unsafe", version), ("DotNext.Net.Cluster", "6.12.0"), ("Microsoft.Extensions.ObjectPool", "10.0.0")], dependencies);
        Assert.True(File.Exists(Path.Combine(_temp.Path, $"Aletheia.Wal.Raft.{version}.snupkg")));
    }
}
