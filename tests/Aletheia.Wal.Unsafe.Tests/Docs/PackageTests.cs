using System.Text.RegularExpressions;
using System.Xml.Linq;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Docs;

/// <summary>
/// `dotnet pack` makes both packages with what a package needs (from the build the tests run on, `--no-build`), and the
/// tool package installs into a tool path from a local folder (no other source, a fresh package cache) and runs.
/// </summary>
public sealed partial class PackageTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Both_packages_pack_and_the_tool_installs_and_reads_a_log()
    {
        string version = VersionPattern().Match(File.ReadAllText(Repository.File("Directory.Build.props"))).Groups[1].Value;
        Assert.Matches(@"^\d+\.\d+\.\d+$", version);
        string packages = Path.Combine(_temp.Path, "packages");
        foreach (string project in new[] { "src/Aletheia.Wal.Unsafe", "src/Aletheia.Wal.Tool" })
        {
            (int exitCode, string output) = await Repository.RunAsync("dotnet", ["pack", Repository.File(project), "-c", Repository.Configuration, "--no-build", "-o", packages]);
            Assert.True(exitCode == 0, $"dotnet pack {project} failed: {output}");
        }

        // The library: its metadata, the README as its readme, its symbols, the commit it was built from.
        string libraryPackage = Path.Combine(packages, $"Aletheia.Wal.Unsafe.{version}.nupkg");
        XElement library = PackageFile.Metadata(libraryPackage);
        byte[] readme = PackageFile.Read(libraryPackage, "README.md");
        Assert.Equal(File.ReadAllBytes(Repository.File("README.md")), readme);
        Assert.StartsWith("A write-ahead log for latency-sensitive .NET engines", PackageFile.Value(library, "description"), StringComparison.Ordinal);
        Assert.Equal("Aletheia.Wal.Unsafe contributors", PackageFile.Value(library, "authors"));
        Assert.Equal("MIT", PackageFile.Value(library, "license"));
        Assert.Equal("README.md", PackageFile.Value(library, "readme"));
        Assert.Contains("write-ahead-log", PackageFile.Value(library, "tags").Split(' '));
        string? commit = await GitHead();
        XElement repository = library.Elements().Single(e => e.Name.LocalName == "repository");
        Assert.Equal("git", repository.Attribute("type")!.Value);
        Assert.Matches("^[0-9a-f]{40}$", repository.Attribute("commit")!.Value);
        if (commit is not null)
        {
            Assert.Equal(commit, repository.Attribute("commit")!.Value);
        }

        Assert.Contains("lib/net10.0/Aletheia.Wal.Unsafe.pdb", PackageFile.Entries(Path.Combine(packages, $"Aletheia.Wal.Unsafe.{version}.snupkg")));

        // The tool: a .NET tool package with the same version and readme.
        string toolPackage = Path.Combine(packages, $"Aletheia.Wal.Tool.{version}.nupkg");
        XElement tool = PackageFile.Metadata(toolPackage);
        Assert.Equal(readme, PackageFile.Read(toolPackage, "README.md"));
        Assert.Equal("DotnetTool", tool.Descendants().Single(e => e.Name.LocalName == "packageType").Attribute("name")!.Value);
        Assert.True(File.Exists(Path.Combine(packages, $"Aletheia.Wal.Tool.{version}.snupkg")));

        // Installed from the local folder only, into a fresh package cache (a cached package of the same version from an
        // earlier build must not stand in for this one), and run on a log.
        string config = Path.Combine(_temp.Path, "nuget.config");
        File.WriteAllText(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{packages}" />
              </packageSources>
            </configuration>
            """);
        string tools = Path.Combine(_temp.Path, "tools");
        var cache = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(_temp.Path, "nuget-cache") };
        (int installed, string installOutput) = await Repository.RunAsync("dotnet", ["tool", "install", "Aletheia.Wal.Tool", "--tool-path", tools, "--configfile", config, "--version", version], environment: cache);
        Assert.True(installed == 0, $"dotnet tool install failed: {installOutput}");

        string log = _temp.Log();
        using (WriteAheadLog wal = WriteAheadLog.Open(new WalOptions { Directory = log, SegmentSizeBytes = WalOptions.MinSegmentSizeBytes }))
        {
            for (int i = 0; i < 10; i++)
            {
                wal.Append(Payloads.Make(0, i, 100));
            }
        }

        (int exitCode2, string stats) = await Repository.RunAsync(Path.Combine(tools, "aletheia-wal"), ["stats", log], seconds: 60);
        Assert.True(exitCode2 == 0, stats);
        Assert.Contains("10 records, LSN 1 to 10", stats, StringComparison.Ordinal);
        Assert.Contains("healthy", stats, StringComparison.Ordinal);
        (_, string versionOutput) = await Repository.RunAsync(Path.Combine(tools, "aletheia-wal"), ["--version"], seconds: 60);
        Assert.StartsWith(version, versionOutput.Trim(), StringComparison.Ordinal);
    }

    /// <summary>The commit the repository is at, or null where the tests run outside a git checkout.</summary>
    private static async Task<string?> GitHead()
    {
        if (!Directory.Exists(Repository.File(".git")) && !File.Exists(Repository.File(".git")))
        {
            return null;
        }

        (int exitCode, string output) = await Repository.RunAsync("git", ["-C", Repository.File(), "rev-parse", "HEAD"], seconds: 30);
        Assert.Equal(0, exitCode);
        return output.Trim();
    }

    [GeneratedRegex("<VersionPrefix>([^<]+)</VersionPrefix>")]
    private static partial Regex VersionPattern();
}
